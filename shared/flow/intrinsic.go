package flow

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	mrand "math/rand/v2"
	"strings"
	"sync"
)

// intrinsic is a parsed intrinsic function call.
type intrinsic struct {
	name string
	args []iarg
}

type iargKind int

const (
	argString iargKind = iota // raw single-quoted literal (escapes kept)
	argValue                  // number, null, true, false
	argPath
	argCall
)

type iarg struct {
	kind  iargKind
	raw   string
	value any
	path  *path
	call  *intrinsic
}

var intrinsicCache sync.Map

func isIntrinsic(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "States.") }

func compileIntrinsic(src string) (*intrinsic, error) {
	if v, ok := intrinsicCache.Load(src); ok {
		return v.(*intrinsic), nil
	}
	p := &iparser{s: strings.TrimSpace(src)}
	call, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("intrinsic %q: %w", src, err)
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("intrinsic %q: unexpected text at offset %d", src, p.i)
	}
	intrinsicCache.Store(src, call)
	return call, nil
}

type iparser struct {
	s string
	i int
}

func (p *iparser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *iparser) call() (*intrinsic, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '(' {
		p.i++
	}
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("missing '('")
	}
	name := strings.TrimSpace(p.s[start:p.i])
	if _, ok := intrinsicFuncs[name]; !ok {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	p.i++
	c := &intrinsic{name: name}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
		return c, nil
	}
	for {
		p.ws()
		a, err := p.arg()
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, a)
		p.ws()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("missing ')'")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == ')' {
			p.i++
			return c, nil
		}
		return nil, fmt.Errorf("unexpected %q at offset %d", p.s[p.i], p.i)
	}
}

func (p *iparser) arg() (iarg, error) {
	if p.i >= len(p.s) {
		return iarg{}, fmt.Errorf("missing argument")
	}
	switch c := p.s[p.i]; {
	case c == '\'':
		j := p.i + 1
		for ; j < len(p.s); j++ {
			if p.s[j] == '\\' {
				j++
				continue
			}
			if p.s[j] == '\'' {
				break
			}
		}
		if j >= len(p.s) {
			return iarg{}, fmt.Errorf("unterminated string literal")
		}
		a := iarg{kind: argString, raw: p.s[p.i+1 : j]}
		p.i = j + 1
		return a, nil
	case c == '$':
		j := p.i
		depth, q := 0, byte(0)
		for ; j < len(p.s); j++ {
			ch := p.s[j]
			if q != 0 {
				if ch == '\\' {
					j++
				} else if ch == q {
					q = 0
				}
				continue
			}
			if ch == '\'' || ch == '"' {
				q = ch
			} else if ch == '[' || ch == '(' {
				depth++
			} else if (ch == ']' || ch == ')') && depth > 0 {
				depth--
			} else if depth == 0 && (ch == ',' || ch == ')') {
				break
			}
		}
		if q != 0 || j > len(p.s) {
			// A quote left open (or an escape at the very end) inside a path argument.
			return iarg{}, fmt.Errorf("unterminated string literal in path %q", p.s[p.i:])
		}
		src := strings.TrimSpace(p.s[p.i:j])
		pp, err := compilePath(src)
		if err != nil {
			return iarg{}, err
		}
		p.i = j
		return iarg{kind: argPath, path: pp, raw: src}, nil
	case strings.HasPrefix(p.s[p.i:], "States."):
		c, err := p.call()
		if err != nil {
			return iarg{}, err
		}
		return iarg{kind: argCall, call: c}, nil
	default:
		j := p.i
		for j < len(p.s) && p.s[j] != ',' && p.s[j] != ')' {
			j++
		}
		lit := strings.TrimSpace(p.s[p.i:j])
		v, err := decodeJSON([]byte(lit))
		if err != nil {
			return iarg{}, fmt.Errorf("bad literal %q", lit)
		}
		p.i = j
		return iarg{kind: argValue, value: v}, nil
	}
}

// unescapeLiteral removes the backslash escapes of an intrinsic string literal.
func unescapeLiteral(raw string) string {
	if !strings.Contains(raw, "\\") {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) {
			i++
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

type ifunc func(args []any, raw []iarg) (any, error)

var intrinsicFuncs map[string]ifunc

func init() {
	intrinsicFuncs = map[string]ifunc{
		"States.Format":         fnFormat,
		"States.StringToJson":   fnStringToJSON,
		"States.JsonToString":   fnJSONToString,
		"States.Array":          func(a []any, _ []iarg) (any, error) { return append([]any{}, a...), nil },
		"States.ArrayPartition": fnArrayPartition,
		"States.ArrayContains":  fnArrayContains,
		"States.ArrayRange":     fnArrayRange,
		"States.ArrayGetItem":   fnArrayGetItem,
		"States.ArrayLength":    fnArrayLength,
		"States.ArrayUnique":    fnArrayUnique,
		"States.Base64Encode":   fnBase64Encode,
		"States.Base64Decode":   fnBase64Decode,
		"States.Hash":           fnHash,
		"States.JsonMerge":      fnJSONMerge,
		"States.MathRandom":     fnMathRandom,
		"States.MathAdd":        fnMathAdd,
		"States.StringSplit":    fnStringSplit,
		"States.UUID":           fnUUID,
	}
}

// evalIntrinsic evaluates a call against the input and the context object.
func evalIntrinsic(c *intrinsic, input, ctxObj any) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch a.kind {
		case argString:
			args[i] = unescapeLiteral(a.raw)
		case argValue:
			args[i] = a.value
		case argPath:
			root := input
			if a.path.context {
				root = ctxObj
			}
			v, err := a.path.eval(root)
			if err != nil {
				return nil, fail(ErrNameIntrinsicFailure, "%s: path %s matched nothing", c.name, a.raw)
			}
			args[i] = v
		case argCall:
			v, err := evalIntrinsic(a.call, input, ctxObj)
			if err != nil {
				return nil, err
			}
			args[i] = v
		}
	}
	v, err := intrinsicFuncs[c.name](args, c.args)
	if err != nil {
		if f, ok := err.(*failure); ok {
			return nil, f
		}
		return nil, fail(ErrNameIntrinsicFailure, "%s: %v", c.name, err)
	}
	return v, nil
}

func wantArgs(args []any, n int) error {
	if len(args) != n {
		return fmt.Errorf("expects %d arguments, got %d", n, len(args))
	}
	return nil
}

func argStr(args []any, i int) (string, error) {
	s, ok := args[i].(string)
	if !ok {
		return "", fmt.Errorf("argument %d must be a string, got %s", i+1, jsonType(args[i]))
	}
	return s, nil
}

func argArr(args []any, i int) ([]any, error) {
	a, ok := args[i].([]any)
	if !ok {
		return nil, fmt.Errorf("argument %d must be an array, got %s", i+1, jsonType(args[i]))
	}
	return a, nil
}

func argInt(args []any, i int) (int64, error) {
	n, ok := toInt(args[i])
	if !ok {
		return 0, fmt.Errorf("argument %d must be an integer, got %s", i+1, jsonType(args[i]))
	}
	return n, nil
}

func fnFormat(args []any, raw []iarg) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("expects a template argument")
	}
	if _, err := argStr(args, 0); err != nil {
		return nil, err
	}
	tpl := args[0].(string)
	escaped := raw[0].kind == argString
	if escaped {
		tpl = raw[0].raw
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(tpl); i++ {
		c := tpl[i]
		if escaped && c == '\\' && i+1 < len(tpl) {
			i++
			b.WriteByte(tpl[i])
			continue
		}
		if c == '{' && i+1 < len(tpl) && tpl[i+1] == '}' {
			if next >= len(args) {
				return nil, fmt.Errorf("more placeholders than arguments")
			}
			switch v := args[next].(type) {
			case string:
				b.WriteString(v)
			case nil:
				b.WriteString("null")
			case bool, json.Number:
				fmt.Fprint(&b, v)
			default:
				return nil, fmt.Errorf("argument %d must be a string, number, boolean or null, got %s", next+1, jsonType(v))
			}
			next++
			i++
			continue
		}
		b.WriteByte(c)
	}
	if next != len(args) {
		return nil, fmt.Errorf("%d arguments for %d placeholders", len(args)-1, next-1)
	}
	return b.String(), nil
}

func fnStringToJSON(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 1); err != nil {
		return nil, err
	}
	s, err := argStr(args, 0)
	if err != nil {
		return nil, err
	}
	return decodeJSON([]byte(s))
}

func fnJSONToString(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 1); err != nil {
		return nil, err
	}
	b, err := marshalJSON(args[0])
	return string(b), err
}

func fnArrayPartition(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 2); err != nil {
		return nil, err
	}
	a, err := argArr(args, 0)
	if err != nil {
		return nil, err
	}
	n, err := argInt(args, 1)
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("chunk size must be a positive integer")
	}
	out := []any{}
	for i := 0; i < len(a); i += int(n) {
		out = append(out, append([]any{}, a[i:min(len(a), i+int(n))]...))
	}
	return out, nil
}

func fnArrayContains(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 2); err != nil {
		return nil, err
	}
	a, err := argArr(args, 0)
	if err != nil {
		return nil, err
	}
	for _, v := range a {
		if jsonEqual(v, args[1]) {
			return true, nil
		}
	}
	return false, nil
}

func fnArrayRange(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 3); err != nil {
		return nil, err
	}
	var n [3]int64
	for i := range n {
		v, err := argInt(args, i)
		if err != nil {
			return nil, err
		}
		n[i] = v
	}
	if n[2] == 0 {
		return nil, fmt.Errorf("step must not be 0")
	}
	out := []any{}
	for v := n[0]; (n[2] > 0 && v <= n[1]) || (n[2] < 0 && v >= n[1]); v += n[2] {
		if len(out) == 1000 {
			return nil, fmt.Errorf("result would hold more than 1000 items")
		}
		out = append(out, intNum(v))
	}
	return out, nil
}

func fnArrayGetItem(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 2); err != nil {
		return nil, err
	}
	a, err := argArr(args, 0)
	if err != nil {
		return nil, err
	}
	i, err := argInt(args, 1)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= int64(len(a)) {
		return nil, fmt.Errorf("index %d out of range [0,%d)", i, len(a))
	}
	return a[i], nil
}

func fnArrayLength(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 1); err != nil {
		return nil, err
	}
	a, err := argArr(args, 0)
	if err != nil {
		return nil, err
	}
	return intNum(int64(len(a))), nil
}

func fnArrayUnique(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 1); err != nil {
		return nil, err
	}
	a, err := argArr(args, 0)
	if err != nil {
		return nil, err
	}
	out := []any{}
outer:
	for _, v := range a {
		for _, w := range out {
			if jsonEqual(v, w) {
				continue outer
			}
		}
		out = append(out, v)
	}
	return out, nil
}

const maxIntrinsicString = 10000

func fnBase64Encode(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 1); err != nil {
		return nil, err
	}
	s, err := argStr(args, 0)
	if err != nil {
		return nil, err
	}
	if len(s) > maxIntrinsicString {
		return nil, fmt.Errorf("input longer than %d characters", maxIntrinsicString)
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64Decode(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 1); err != nil {
		return nil, err
	}
	s, err := argStr(args, 0)
	if err != nil {
		return nil, err
	}
	if len(s) > maxIntrinsicString {
		return nil, fmt.Errorf("input longer than %d characters", maxIntrinsicString)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	return string(b), nil
}

func fnHash(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 2); err != nil {
		return nil, err
	}
	var data string
	switch v := args[0].(type) {
	case string:
		data = v
	default:
		b, err := marshalJSON(v)
		if err != nil {
			return nil, err
		}
		data = string(b)
	}
	if len(data) > maxIntrinsicString {
		return nil, fmt.Errorf("input longer than %d characters", maxIntrinsicString)
	}
	algo, err := argStr(args, 1)
	if err != nil {
		return nil, err
	}
	var h hash.Hash
	switch algo {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("unsupported algorithm %q (MD5, SHA-1, SHA-256, SHA-384, SHA-512)", algo)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fnJSONMerge(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 3); err != nil {
		return nil, err
	}
	a, ok1 := args[0].(map[string]any)
	b, ok2 := args[1].(map[string]any)
	deep, ok3 := args[2].(bool)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("expects (object, object, boolean)")
	}
	if deep {
		return nil, fmt.Errorf("deep merge is not supported; the third argument must be false")
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out, nil
}

func fnMathRandom(args []any, _ []iarg) (any, error) {
	if len(args) != 2 && len(args) != 3 {
		return nil, fmt.Errorf("expects 2 or 3 arguments, got %d", len(args))
	}
	lo, err := argInt(args, 0)
	if err != nil {
		return nil, err
	}
	hi, err := argInt(args, 1)
	if err != nil {
		return nil, err
	}
	if hi <= lo {
		return nil, fmt.Errorf("end must be greater than start")
	}
	var r *mrand.Rand
	if len(args) == 3 {
		seed, err := argInt(args, 2)
		if err != nil {
			return nil, err
		}
		r = mrand.New(mrand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	} else {
		r = mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
	}
	return intNum(lo + r.Int64N(hi-lo)), nil
}

func fnMathAdd(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 2); err != nil {
		return nil, err
	}
	a, ok1 := toFloat(args[0])
	b, ok2 := toFloat(args[1])
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("expects two numbers")
	}
	s := a + b
	if math.IsInf(s, 0) {
		return nil, fmt.Errorf("overflow")
	}
	return floatNum(s), nil
}

func fnStringSplit(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 2); err != nil {
		return nil, err
	}
	s, err := argStr(args, 0)
	if err != nil {
		return nil, err
	}
	d, err := argStr(args, 1)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) }) {
		out = append(out, p)
	}
	return out, nil
}

func fnUUID(args []any, _ []iarg) (any, error) {
	if err := wantArgs(args, 0); err != nil {
		return nil, err
	}
	return newUUID(), nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
