package flow

import (
	"fmt"
	"strings"
)

// template is a compiled payload template (Parameters, ResultSelector, ItemSelector).
type template struct {
	node tnode
}

type tnodeKind int

const (
	tLiteral tnodeKind = iota
	tObject
	tArray
	tPath
	tIntrinsic
)

type tnode struct {
	kind   tnodeKind
	value  any
	keys   []string
	fields []tnode
	items  []tnode
	path   *path
	call   *intrinsic
	src    string
}

func compileTemplate(v any) (*template, error) {
	n, err := compileNode(v)
	if err != nil {
		return nil, err
	}
	return &template{node: n}, nil
}

func compileNode(v any) (tnode, error) {
	switch x := v.(type) {
	case map[string]any:
		n := tnode{kind: tObject}
		for _, k := range sortedKeys(x) {
			val := x[k]
			if name, ok := strings.CutSuffix(k, ".$"); ok {
				s, ok := val.(string)
				if !ok {
					return tnode{}, fmt.Errorf("field %q must be a string path or intrinsic function", k)
				}
				dyn, err := compileDynamic(s)
				if err != nil {
					return tnode{}, fmt.Errorf("field %q: %w", k, err)
				}
				n.keys = append(n.keys, name)
				n.fields = append(n.fields, dyn)
				continue
			}
			child, err := compileNode(val)
			if err != nil {
				return tnode{}, err
			}
			n.keys = append(n.keys, k)
			n.fields = append(n.fields, child)
		}
		return n, nil
	case []any:
		n := tnode{kind: tArray}
		for _, e := range x {
			child, err := compileNode(e)
			if err != nil {
				return tnode{}, err
			}
			n.items = append(n.items, child)
		}
		return n, nil
	}
	return tnode{kind: tLiteral, value: v}, nil
}

func compileDynamic(s string) (tnode, error) {
	if isIntrinsic(s) {
		c, err := compileIntrinsic(s)
		if err != nil {
			return tnode{}, err
		}
		return tnode{kind: tIntrinsic, call: c, src: s}, nil
	}
	p, err := compilePath(s)
	if err != nil {
		return tnode{}, err
	}
	return tnode{kind: tPath, path: p, src: s}, nil
}

// eval builds the payload from input and the context object.
func (t *template) eval(input, ctxObj any) (any, error) { return t.node.eval(input, ctxObj) }

func (n *tnode) eval(input, ctxObj any) (any, error) {
	switch n.kind {
	case tLiteral:
		return n.value, nil
	case tObject:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			v, err := n.fields[i].eval(input, ctxObj)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case tArray:
		out := make([]any, len(n.items))
		for i := range n.items {
			v, err := n.items[i].eval(input, ctxObj)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case tPath:
		root := input
		if n.path.context {
			root = ctxObj
		}
		v, err := n.path.eval(root)
		if err != nil {
			return nil, fail(ErrNameParameterPathFailure, "The JSONPath '%s' could not be found in the input '%s'", n.src, mustMarshal(root))
		}
		return v, nil
	case tIntrinsic:
		return evalIntrinsic(n.call, input, ctxObj)
	}
	return nil, fmt.Errorf("unknown template node")
}
