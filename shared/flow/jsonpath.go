package flow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// errNoMatch reports that a definite path selected nothing.
var errNoMatch = errors.New("path matched nothing")

type segKind int

const (
	segField segKind = iota
	segIndex
	segWildcard
	segSlice
	segUnion
	segDescend // recursive descent to a field name ("..name") or wildcard ("..*")
	segFilter
)

type segment struct {
	kind       segKind
	name       string
	index      int
	start, end *int
	step       int
	union      []segment
	filter     *filterExpr
}

// path is a compiled JSONPath expression. Context paths ($$...) are compiled without the
// first dollar, so they evaluate against the context object.
type path struct {
	src      string
	context  bool
	segs     []segment
	definite bool
}

var pathCache sync.Map // string -> *path

// compilePath parses a JSONPath (or a context path starting with "$$").
func compilePath(src string) (*path, error) {
	if p, ok := pathCache.Load(src); ok {
		return p.(*path), nil
	}
	p, err := parsePath(src)
	if err != nil {
		return nil, err
	}
	pathCache.Store(src, p)
	return p, nil
}

func parsePath(src string) (*path, error) {
	s := strings.TrimSpace(src)
	p := &path{src: src, definite: true}
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context = true
		s = s[2:]
	case strings.HasPrefix(s, "$"):
		s = s[1:]
	default:
		return nil, fmt.Errorf("path %q must start with $", src)
	}
	i := 0
	for i < len(s) {
		switch s[i] {
		case '.':
			if i+1 < len(s) && s[i+1] == '.' {
				i += 2
				if i < len(s) && s[i] == '*' {
					p.segs = append(p.segs, segment{kind: segDescend, name: "*"})
					i++
				} else {
					j := scanName(s, i)
					if j == i {
						return nil, fmt.Errorf("path %q: empty name after '..'", src)
					}
					p.segs = append(p.segs, segment{kind: segDescend, name: s[i:j]})
					i = j
				}
				p.definite = false
				continue
			}
			i++
			if i < len(s) && s[i] == '*' {
				p.segs = append(p.segs, segment{kind: segWildcard})
				p.definite = false
				i++
				continue
			}
			j := scanName(s, i)
			if j == i {
				return nil, fmt.Errorf("path %q: empty field name at offset %d", src, i)
			}
			p.segs = append(p.segs, segment{kind: segField, name: s[i:j]})
			i = j
		case '[':
			end, seg, err := parseBracket(s, i)
			if err != nil {
				return nil, fmt.Errorf("path %q: %w", src, err)
			}
			if seg.kind != segField && seg.kind != segIndex {
				p.definite = false
			}
			p.segs = append(p.segs, seg)
			i = end
		default:
			return nil, fmt.Errorf("path %q: unexpected %q at offset %d", src, s[i], i)
		}
	}
	return p, nil
}

func scanName(s string, i int) int {
	j := i
	for j < len(s) && s[j] != '.' && s[j] != '[' {
		j++
	}
	return j
}

// parseBracket parses "[...]" starting at s[i]=='[' and returns the index after ']'.
func parseBracket(s string, i int) (int, segment, error) {
	depth, q := 0, byte(0)
	j := i
	for ; j < len(s); j++ {
		c := s[j]
		if q != 0 {
			if c == '\\' {
				j++
			} else if c == q {
				q = 0
			}
			continue
		}
		if c == '\'' || c == '"' {
			q = c
		} else if c == '[' {
			depth++
		} else if c == ']' {
			depth--
			if depth == 0 {
				break
			}
		}
	}
	if j >= len(s) {
		return 0, segment{}, fmt.Errorf("unterminated '[' at offset %d", i)
	}
	body := strings.TrimSpace(s[i+1 : j])
	seg, err := parseSelector(body)
	return j + 1, seg, err
}

func parseSelector(body string) (segment, error) {
	switch {
	case body == "*":
		return segment{kind: segWildcard}, nil
	case strings.HasPrefix(body, "?"):
		f, err := parseFilter(body[1:])
		if err != nil {
			return segment{}, err
		}
		return segment{kind: segFilter, filter: f}, nil
	}
	parts := splitTop(body, ',')
	if len(parts) > 1 {
		u := segment{kind: segUnion}
		for _, p := range parts {
			s, err := parseSelector(strings.TrimSpace(p))
			if err != nil {
				return segment{}, err
			}
			u.union = append(u.union, s)
		}
		return u, nil
	}
	if len(body) >= 2 && (body[0] == '\'' || body[0] == '"') && body[len(body)-1] == body[0] {
		return segment{kind: segField, name: unquote(body[1 : len(body)-1])}, nil
	}
	if strings.Contains(body, ":") {
		seg := segment{kind: segSlice, step: 1}
		ps := strings.Split(body, ":")
		if len(ps) > 3 {
			return segment{}, fmt.Errorf("bad slice %q", body)
		}
		for k, p := range ps {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			n, err := strconv.Atoi(p)
			if err != nil {
				return segment{}, fmt.Errorf("bad slice %q", body)
			}
			switch k {
			case 0:
				seg.start = &n
			case 1:
				seg.end = &n
			case 2:
				if n == 0 {
					return segment{}, fmt.Errorf("slice step 0 in %q", body)
				}
				seg.step = n
			}
		}
		return seg, nil
	}
	n, err := strconv.Atoi(body)
	if err != nil {
		return segment{}, fmt.Errorf("bad selector [%s]", body)
	}
	return segment{kind: segIndex, index: n}, nil
}

func unquote(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// splitTop splits s on sep outside quotes, brackets and parentheses.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, q, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if q != 0 {
			if c == '\\' {
				i++
			} else if c == q {
				q = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			q = c
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// eval applies the path to root. A definite path returns its single value or errNoMatch; an
// indefinite path returns a []any of every match (possibly empty).
func (p *path) eval(root any) (any, error) {
	if p.definite {
		cur := root
		for _, sg := range p.segs {
			switch sg.kind {
			case segField:
				m, ok := cur.(map[string]any)
				if !ok {
					return nil, errNoMatch
				}
				v, ok := m[sg.name]
				if !ok {
					return nil, errNoMatch
				}
				cur = v
			case segIndex:
				a, ok := cur.([]any)
				if !ok {
					return nil, errNoMatch
				}
				idx := sg.index
				if idx < 0 {
					idx += len(a)
				}
				if idx < 0 || idx >= len(a) {
					return nil, errNoMatch
				}
				cur = a[idx]
			}
		}
		return cur, nil
	}
	nodes := []any{root}
	for _, sg := range p.segs {
		var next []any
		for _, n := range nodes {
			next = applySeg(sg, n, next)
		}
		nodes = next
	}
	if nodes == nil {
		nodes = []any{}
	}
	return nodes, nil
}

func applySeg(sg segment, n any, out []any) []any {
	switch sg.kind {
	case segField:
		if m, ok := n.(map[string]any); ok {
			if v, ok := m[sg.name]; ok {
				out = append(out, v)
			}
		}
	case segIndex:
		if a, ok := n.([]any); ok {
			idx := sg.index
			if idx < 0 {
				idx += len(a)
			}
			if idx >= 0 && idx < len(a) {
				out = append(out, a[idx])
			}
		}
	case segWildcard:
		switch v := n.(type) {
		case []any:
			out = append(out, v...)
		case map[string]any:
			for _, k := range sortedKeys(v) {
				out = append(out, v[k])
			}
		}
	case segSlice:
		a, ok := n.([]any)
		if !ok {
			return out
		}
		l := len(a)
		norm := func(p *int, def int) int {
			if p == nil {
				return def
			}
			x := *p
			if x < 0 {
				x += l
			}
			return min(max(x, 0), l)
		}
		if sg.step > 0 {
			for i := norm(sg.start, 0); i < norm(sg.end, l); i += sg.step {
				out = append(out, a[i])
			}
		} else {
			start := l - 1
			if sg.start != nil {
				start = min(norm(sg.start, 0), l-1)
			}
			end := -1
			if sg.end != nil {
				end = norm(sg.end, 0)
			}
			for i := start; i > end; i += sg.step {
				out = append(out, a[i])
			}
		}
	case segUnion:
		for _, u := range sg.union {
			out = applySeg(u, n, out)
		}
	case segDescend:
		out = descend(sg.name, n, out)
	case segFilter:
		switch v := n.(type) {
		case []any:
			for _, e := range v {
				if sg.filter.match(e) {
					out = append(out, e)
				}
			}
		case map[string]any:
			for _, k := range sortedKeys(v) {
				if sg.filter.match(v[k]) {
					out = append(out, v[k])
				}
			}
		}
	}
	return out
}

func descend(name string, n any, out []any) []any {
	switch v := n.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if name == "*" || k == name {
				out = append(out, v[k])
			}
		}
		for _, k := range sortedKeys(v) {
			out = descend(name, v[k], out)
		}
	case []any:
		for _, e := range v {
			if name == "*" {
				out = append(out, e)
			}
		}
		for _, e := range v {
			out = descend(name, e, out)
		}
	}
	return out
}

// filterExpr is a minimal JSONPath filter: ?(@.path), ?(@.path OP literal) joined by && or ||.
type filterExpr struct {
	or  []*filterExpr
	and []*filterExpr
	rel *filterRel
}

type filterRel struct {
	left  *path
	op    string
	right any
}

func parseFilter(s string) (*filterExpr, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		s = s[1 : len(s)-1]
	}
	return parseFilterOr(strings.TrimSpace(s))
}

func splitOp(s, op string) []string {
	var out []string
	depth, q, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if q != 0 {
			if c == '\\' {
				i++
			} else if c == q {
				q = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			q = c
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		}
		if depth == 0 && strings.HasPrefix(s[i:], op) {
			out = append(out, s[start:i])
			start = i + len(op)
			i += len(op) - 1
		}
	}
	return append(out, s[start:])
}

func parseFilterOr(s string) (*filterExpr, error) {
	parts := splitOp(s, "||")
	if len(parts) > 1 {
		f := &filterExpr{}
		for _, p := range parts {
			g, err := parseFilterOr(strings.TrimSpace(p))
			if err != nil {
				return nil, err
			}
			f.or = append(f.or, g)
		}
		return f, nil
	}
	parts = splitOp(s, "&&")
	if len(parts) > 1 {
		f := &filterExpr{}
		for _, p := range parts {
			g, err := parseFilterOr(strings.TrimSpace(p))
			if err != nil {
				return nil, err
			}
			f.and = append(f.and, g)
		}
		return f, nil
	}
	if len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		return parseFilterOr(strings.TrimSpace(s[1 : len(s)-1]))
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		ps := splitOp(s, op)
		if len(ps) == 2 {
			left, err := filterPath(strings.TrimSpace(ps[0]))
			if err != nil {
				return nil, err
			}
			lit := strings.TrimSpace(ps[1])
			if strings.HasPrefix(lit, "'") && strings.HasSuffix(lit, "'") && len(lit) >= 2 {
				lit = strconvQuote(unquote(lit[1 : len(lit)-1]))
			}
			v, err := decodeJSON([]byte(lit))
			if err != nil {
				return nil, fmt.Errorf("bad filter literal %q", lit)
			}
			return &filterExpr{rel: &filterRel{left: left, op: op, right: v}}, nil
		}
	}
	left, err := filterPath(s)
	if err != nil {
		return nil, err
	}
	return &filterExpr{rel: &filterRel{left: left}}, nil
}

func strconvQuote(s string) string { b, _ := marshalJSON(s); return string(b) }

func filterPath(s string) (*path, error) {
	if !strings.HasPrefix(s, "@") {
		return nil, fmt.Errorf("filter operand %q must start with @", s)
	}
	return parsePath("$" + s[1:])
}

func (f *filterExpr) match(v any) bool {
	switch {
	case f.or != nil:
		for _, g := range f.or {
			if g.match(v) {
				return true
			}
		}
		return false
	case f.and != nil:
		for _, g := range f.and {
			if !g.match(v) {
				return false
			}
		}
		return true
	}
	got, err := f.rel.left.eval(v)
	if err != nil {
		return false
	}
	if f.rel.op == "" {
		return true
	}
	switch f.rel.op {
	case "==":
		return jsonEqual(got, f.rel.right)
	case "!=":
		return !jsonEqual(got, f.rel.right)
	}
	if a, ok := toFloat(got); ok {
		if b, ok := toFloat(f.rel.right); ok {
			return compareOrd(cmpFloat(a, b), f.rel.op)
		}
	}
	if a, ok := got.(string); ok {
		if b, ok := f.rel.right.(string); ok {
			return compareOrd(strings.Compare(a, b), f.rel.op)
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareOrd(c int, op string) bool {
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// setPath returns a copy of root with value placed at the reference path p, creating
// intermediate objects. It never mutates root.
func setPath(root any, p *path, value any) (any, error) {
	if !p.definite || p.context {
		return nil, fmt.Errorf("%q is not a reference path", p.src)
	}
	return setSegs(root, p.segs, value)
}

func setSegs(cur any, segs []segment, value any) (any, error) {
	if len(segs) == 0 {
		return value, nil
	}
	sg := segs[0]
	switch sg.kind {
	case segField:
		var m map[string]any
		switch c := cur.(type) {
		case map[string]any:
			m = make(map[string]any, len(c)+1)
			for k, v := range c {
				m[k] = v
			}
		case nil:
			m = map[string]any{}
		default:
			return nil, fmt.Errorf("cannot set field %q on a %s", sg.name, jsonType(cur))
		}
		child, err := setSegs(m[sg.name], segs[1:], value)
		if err != nil {
			return nil, err
		}
		m[sg.name] = child
		return m, nil
	case segIndex:
		a, ok := cur.([]any)
		if !ok || sg.index < 0 || sg.index >= len(a) {
			return nil, fmt.Errorf("cannot set index %d", sg.index)
		}
		cp := append([]any(nil), a...)
		child, err := setSegs(cp[sg.index], segs[1:], value)
		if err != nil {
			return nil, err
		}
		cp[sg.index] = child
		return cp, nil
	}
	return nil, errors.New("unsupported segment in reference path")
}
