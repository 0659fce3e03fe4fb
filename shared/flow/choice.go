package flow

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// rule is a compiled Choice rule (top-level rules carry Next).
type rule struct {
	next     string
	and, or  []*rule
	not      *rule
	variable *path
	varSrc   string
	op       string
	value    any
	valuePth *path
}

var comparisonOps = map[string]string{} // operator -> kind: string, numeric, boolean, timestamp, is, match

func init() {
	for _, base := range []string{"Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"} {
		comparisonOps["String"+base] = "string"
		comparisonOps["Numeric"+base] = "numeric"
		comparisonOps["Timestamp"+base] = "timestamp"
	}
	comparisonOps["BooleanEquals"] = "boolean"
	comparisonOps["StringMatches"] = "match"
	for _, is := range []string{"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"} {
		comparisonOps[is] = "is"
	}
}

func compileRule(raw json.RawMessage, top bool) (*rule, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	r := &rule{}
	if next, ok := m["Next"]; ok {
		if !top {
			return nil, fmt.Errorf("nested rules must not have Next")
		}
		if err := json.Unmarshal(next, &r.next); err != nil {
			return nil, err
		}
	} else if top {
		return nil, errors.New("a top-level rule needs Next")
	}
	ops := 0
	for k, v := range m {
		switch k {
		case "Next", "Comment", "Variable":
		case "And", "Or":
			var subs []json.RawMessage
			if err := json.Unmarshal(v, &subs); err != nil || len(subs) == 0 {
				return nil, fmt.Errorf("%s must be a non-empty array", k)
			}
			for _, sub := range subs {
				sr, err := compileRule(sub, false)
				if err != nil {
					return nil, err
				}
				if k == "And" {
					r.and = append(r.and, sr)
				} else {
					r.or = append(r.or, sr)
				}
			}
			r.op = k
			ops++
		case "Not":
			sr, err := compileRule(v, false)
			if err != nil {
				return nil, err
			}
			r.not, r.op = sr, k
			ops++
		default:
			opName, isPath := k, false
			if _, ok := comparisonOps[k]; !ok {
				base, cut := strings.CutSuffix(k, "Path")
				if kind, ok := comparisonOps[base]; !cut || !ok || kind == "is" {
					return nil, fmt.Errorf("unknown field %q", k)
				}
				opName, isPath = base, true
			}
			r.op = k
			ops++
			if isPath {
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return nil, fmt.Errorf("%s must be a path string", k)
				}
				p, err := compilePath(s)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				r.valuePth = p
				r.op = opName
				continue
			}
			val, err := decodeJSON(v)
			if err != nil {
				return nil, err
			}
			if err := checkOperand(opName, val); err != nil {
				return nil, err
			}
			r.value = val
		}
	}
	if ops != 1 {
		return nil, fmt.Errorf("a rule needs exactly one comparison operator or And/Or/Not, found %d", ops)
	}
	if r.op != "And" && r.op != "Or" && r.op != "Not" {
		v, ok := m["Variable"]
		if !ok {
			return nil, fmt.Errorf("%s needs a Variable", r.op)
		}
		if err := json.Unmarshal(v, &r.varSrc); err != nil {
			return nil, fmt.Errorf("the Variable must be a path string")
		}
		p, err := compilePath(r.varSrc)
		if err != nil {
			return nil, fmt.Errorf("the Variable: %w", err)
		}
		r.variable = p
	}
	return r, nil
}

func checkOperand(op string, v any) error {
	switch comparisonOps[op] {
	case "string", "match":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s needs a string", op)
		}
	case "numeric":
		if _, ok := toFloat(v); !ok {
			return fmt.Errorf("%s needs a number", op)
		}
	case "boolean", "is":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s needs a boolean", op)
		}
	case "timestamp":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s needs a timestamp string", op)
		}
		if _, ok := parseTimestamp(s); !ok {
			return fmt.Errorf("%s: %q is not an RFC 3339 timestamp", op, s)
		}
	}
	return nil
}

func parseTimestamp(s string) (time.Time, bool) {
	if len(s) < 20 || (s[10] != 'T' && s[10] != 't') {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// match evaluates the rule against input.
func (r *rule) match(input, ctxObj any) (bool, error) {
	switch r.op {
	case "And":
		for _, s := range r.and {
			ok, err := s.match(input, ctxObj)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "Or":
		for _, s := range r.or {
			ok, err := s.match(input, ctxObj)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "Not":
		ok, err := r.not.match(input, ctxObj)
		return !ok, err
	}
	root := input
	if r.variable.context {
		root = ctxObj
	}
	v, err := r.variable.eval(root)
	present := err == nil
	if comparisonOps[r.op] == "is" {
		want := r.value.(bool)
		var got bool
		switch r.op {
		case "IsPresent":
			got = present
		case "IsNull":
			got = present && v == nil
		case "IsNumeric":
			_, isNum := v.(json.Number)
			got = present && isNum
		case "IsString":
			_, isStr := v.(string)
			got = present && isStr
		case "IsBoolean":
			_, isBool := v.(bool)
			got = present && isBool
		case "IsTimestamp":
			s, isStr := v.(string)
			if present && isStr {
				_, got = parseTimestamp(s)
			}
		}
		return got == want, nil
	}
	if !present {
		return false, fail(ErrNameRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.varSrc)
	}
	other := r.value
	if r.valuePth != nil {
		vroot := input
		if r.valuePth.context {
			vroot = ctxObj
		}
		o, err := r.valuePth.eval(vroot)
		if err != nil {
			return false, fail(ErrNameRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.valuePth.src)
		}
		other = o
	}
	return compare(r.op, v, other), nil
}

func compare(op string, a, b any) bool {
	kind := comparisonOps[op]
	rel := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(op, "String"), "Numeric"), "Timestamp")
	var c int
	switch kind {
	case "string":
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		if !ok1 || !ok2 {
			return false
		}
		c = strings.Compare(x, y)
	case "numeric":
		_, isNum := a.(json.Number)
		if !isNum {
			return false
		}
		x, ok1 := toFloat(a)
		y, ok2 := toFloat(b)
		if !ok1 || !ok2 {
			return false
		}
		c = cmpFloat(x, y)
	case "boolean":
		x, ok1 := a.(bool)
		y, ok2 := b.(bool)
		return ok1 && ok2 && x == y
	case "timestamp":
		xs, ok1 := a.(string)
		ys, ok2 := b.(string)
		if !ok1 || !ok2 {
			return false
		}
		x, ok1 := parseTimestamp(xs)
		y, ok2 := parseTimestamp(ys)
		if !ok1 || !ok2 {
			return false
		}
		c = x.Compare(y)
	case "match":
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		return ok1 && ok2 && wildcardMatch(y, x)
	}
	switch rel {
	case "Equals":
		return c == 0
	case "LessThan":
		return c < 0
	case "GreaterThan":
		return c > 0
	case "LessThanEquals":
		return c <= 0
	case "GreaterThanEquals":
		return c >= 0
	}
	return false
}

// wildcardMatch implements StringMatches: '*' matches any run of characters; "\*" and "\\"
// are literal.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		c    rune
	}
	var toks []tok
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			i++
			toks = append(toks, tok{c: rs[i]})
			continue
		}
		toks = append(toks, tok{star: rs[i] == '*', c: rs[i]})
	}
	str := []rune(s)
	// Iterative wildcard matching with backtracking to the last star.
	ti, si, starT, starS := 0, 0, -1, 0
	for si < len(str) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].c == str[si]:
			ti++
			si++
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case starT >= 0:
			starS++
			si = starS
			ti = starT + 1
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
