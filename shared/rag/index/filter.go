package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidFilter means a metadata filter is malformed.
var ErrInvalidFilter = errors.New("index: invalid filter")

// Filter is a metadata filter in Amazon Bedrock Knowledge Bases' RetrievalFilter shape:
// exactly one field is set, e.g. {"andAll":[{"equals":{"key":"year","value":2024}},
// {"startsWith":{"key":"team","value":"fin"}}]}.
type Filter struct {
	Equals              *Condition `json:"equals,omitempty"`
	NotEquals           *Condition `json:"notEquals,omitempty"`
	In                  *Condition `json:"in,omitempty"`
	NotIn               *Condition `json:"notIn,omitempty"`
	GreaterThan         *Condition `json:"greaterThan,omitempty"`
	GreaterThanOrEquals *Condition `json:"greaterThanOrEquals,omitempty"`
	LessThan            *Condition `json:"lessThan,omitempty"`
	LessThanOrEquals    *Condition `json:"lessThanOrEquals,omitempty"`
	StartsWith          *Condition `json:"startsWith,omitempty"`
	StringContains      *Condition `json:"stringContains,omitempty"`
	ListContains        *Condition `json:"listContains,omitempty"`
	AndAll              []Filter   `json:"andAll,omitempty"`
	OrAll               []Filter   `json:"orAll,omitempty"`
}

// Condition compares the metadata attribute Key with Value.
type Condition struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// Built-in metadata keys every chunk carries for filtering (Bedrock's names).
const (
	KeySourceURI  = "x-amz-bedrock-kb-source-uri"
	KeyPageNumber = "x-amz-bedrock-kb-document-page-number"
	KeyChunkID    = "x-amz-bedrock-kb-chunk-id"
	KeyDocumentID = "x-amz-bedrock-kb-document-id"
)

// Validate checks that every node sets exactly one operator with a key and a value of the
// right kind.
func (f *Filter) Validate() error {
	if f == nil {
		return nil
	}
	n := 0
	for _, c := range f.conds() {
		if c.c == nil {
			continue
		}
		n++
		if c.c.Key == "" {
			return fmt.Errorf("%w: %s needs a key", ErrInvalidFilter, c.op)
		}
		switch c.op {
		case "in", "notIn":
			if _, ok := c.c.Value.([]any); !ok {
				return fmt.Errorf("%w: %s needs an array value", ErrInvalidFilter, c.op)
			}
		case "greaterThan", "greaterThanOrEquals", "lessThan", "lessThanOrEquals":
			if _, ok := number(c.c.Value); !ok {
				return fmt.Errorf("%w: %s needs a number value", ErrInvalidFilter, c.op)
			}
		case "startsWith", "stringContains":
			if _, ok := c.c.Value.(string); !ok {
				return fmt.Errorf("%w: %s needs a string value", ErrInvalidFilter, c.op)
			}
		default:
			if c.c.Value == nil {
				return fmt.Errorf("%w: %s needs a value", ErrInvalidFilter, c.op)
			}
		}
	}
	for _, group := range [][]Filter{f.AndAll, f.OrAll} {
		if group != nil {
			n++
			if len(group) == 0 {
				return fmt.Errorf("%w: andAll/orAll need at least one filter", ErrInvalidFilter)
			}
			for i := range group {
				if err := group[i].Validate(); err != nil {
					return err
				}
			}
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: each filter sets exactly one operator, found %d", ErrInvalidFilter, n)
	}
	return nil
}

type namedCond struct {
	op string
	c  *Condition
}

func (f *Filter) conds() []namedCond {
	return []namedCond{
		{"equals", f.Equals}, {"notEquals", f.NotEquals}, {"in", f.In}, {"notIn", f.NotIn},
		{"greaterThan", f.GreaterThan}, {"greaterThanOrEquals", f.GreaterThanOrEquals},
		{"lessThan", f.LessThan}, {"lessThanOrEquals", f.LessThanOrEquals},
		{"startsWith", f.StartsWith}, {"stringContains", f.StringContains}, {"listContains", f.ListContains},
	}
}

// Match reports whether attributes satisfy the filter. A nil filter matches everything; a
// comparison on a missing attribute is false (notEquals and notIn included, as in Bedrock).
func (f *Filter) Match(attrs func(key string) (any, bool)) bool {
	if f == nil {
		return true
	}
	switch {
	case f.AndAll != nil:
		for i := range f.AndAll {
			if !f.AndAll[i].Match(attrs) {
				return false
			}
		}
		return true
	case f.OrAll != nil:
		for i := range f.OrAll {
			if f.OrAll[i].Match(attrs) {
				return true
			}
		}
		return false
	}
	for _, nc := range f.conds() {
		if nc.c == nil {
			continue
		}
		v, ok := attrs(nc.c.Key)
		if !ok || v == nil {
			return false
		}
		want := nc.c.Value
		switch nc.op {
		case "equals":
			return equal(v, want)
		case "notEquals":
			return !equal(v, want)
		case "in", "notIn":
			found := false
			list, _ := want.([]any)
			for _, w := range list {
				if equal(v, w) {
					found = true
					break
				}
			}
			return found == (nc.op == "in")
		case "greaterThan", "greaterThanOrEquals", "lessThan", "lessThanOrEquals":
			a, ok1 := number(v)
			b, ok2 := number(want)
			if !ok1 || !ok2 {
				return false
			}
			switch nc.op {
			case "greaterThan":
				return a > b
			case "greaterThanOrEquals":
				return a >= b
			case "lessThan":
				return a < b
			default:
				return a <= b
			}
		case "startsWith":
			s, ok := v.(string)
			w, _ := want.(string)
			return ok && strings.HasPrefix(s, w)
		case "stringContains":
			if list, ok := v.([]any); ok {
				w, _ := want.(string)
				for _, e := range list {
					if s, ok := e.(string); ok && strings.Contains(s, w) {
						return true
					}
				}
				return false
			}
			s, ok := v.(string)
			w, _ := want.(string)
			return ok && strings.Contains(s, w)
		case "listContains":
			list, ok := v.([]any)
			if !ok {
				return false
			}
			for _, e := range list {
				if equal(e, want) {
					return true
				}
			}
			return false
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}
