package toolhub

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
)

// guardJSON checks every string in a JSON document and returns the document with masked
// strings written back.
func (h *Hub) guardJSON(ctx context.Context, c *Caller, src GuardSource, doc json.RawMessage) (GuardVerdict, json.RawMessage, error) {
	v, err := decodeJSON(doc)
	if err != nil {
		return GuardVerdict{}, doc, nil
	}
	var texts []string
	walkStrings(v, func(s string) string { texts = append(texts, s); return s })
	if len(texts) == 0 {
		return GuardVerdict{}, doc, nil
	}
	verdict, err := h.guard.Check(ctx, c, src, texts)
	if err != nil || verdict.Blocked || !verdict.Changed || len(verdict.Texts) != len(texts) {
		return verdict, doc, err
	}
	i := 0
	v = walkStrings(v, func(string) string { s := verdict.Texts[i]; i++; return s })
	out, err := json.Marshal(v)
	if err != nil {
		return verdict, doc, nil
	}
	return verdict, out, nil
}

// guardResult checks a CallToolResult's text content, embedded text resources and
// structured content, masking in place. A text that is a JSON document is checked value
// by value, like structured content, so the policy judges the data rather than its JSON
// punctuation.
func (h *Hub) guardResult(ctx context.Context, c *Caller, res json.RawMessage) (json.RawMessage, GuardVerdict, error) {
	var r map[string]json.RawMessage
	if err := json.Unmarshal(res, &r); err != nil {
		return res, GuardVerdict{}, nil
	}
	var content []map[string]json.RawMessage
	_ = json.Unmarshal(r["content"], &content)

	// A part is one checked piece: a plain text, or a JSON document's string values.
	type part struct {
		item     int // content index, or -1 for structuredContent
		resource bool
		doc      any // decoded JSON document, nil for plain text
		first, n int // its texts in the checked list
	}
	var texts []string
	var parts []part
	add := func(p part, s string) {
		p.first = len(texts)
		if v, err := decodeJSON([]byte(s)); err == nil && isContainer(v) {
			p.doc = v
			walkStrings(v, func(x string) string { texts = append(texts, x); return x })
		} else {
			texts = append(texts, s)
		}
		p.n = len(texts) - p.first
		parts = append(parts, p)
	}
	for i, item := range content {
		var typ, t string
		_ = json.Unmarshal(item["type"], &typ)
		switch typ {
		case "text":
			if json.Unmarshal(item["text"], &t) == nil {
				add(part{item: i}, t)
			}
		case "resource":
			var rc map[string]json.RawMessage
			if json.Unmarshal(item["resource"], &rc) == nil && json.Unmarshal(rc["text"], &t) == nil && t != "" {
				add(part{item: i, resource: true}, t)
			}
		}
	}
	if sc := r["structuredContent"]; len(sc) > 0 && string(sc) != "null" {
		add(part{item: -1}, string(sc))
	}
	if len(texts) == 0 {
		return res, GuardVerdict{}, nil
	}
	v, err := h.guard.Check(ctx, c, GuardInput, texts)
	if err != nil || v.Blocked || !v.Changed || len(v.Texts) != len(texts) {
		return res, v, err
	}
	for _, p := range parts {
		var out string
		if p.doc != nil {
			k := p.first
			doc := walkStrings(p.doc, func(string) string { s := v.Texts[k]; k++; return s })
			b, err := json.Marshal(doc)
			if err != nil {
				continue
			}
			out = string(b)
		} else {
			out = v.Texts[p.first]
		}
		switch {
		case p.item < 0:
			r["structuredContent"] = json.RawMessage(out)
		case p.resource:
			var rc map[string]json.RawMessage
			_ = json.Unmarshal(content[p.item]["resource"], &rc)
			rc["text"], _ = json.Marshal(out)
			content[p.item]["resource"], _ = json.Marshal(rc)
		default:
			content[p.item]["text"], _ = json.Marshal(out)
		}
	}
	r["content"], _ = json.Marshal(content)
	out, err := json.Marshal(r)
	if err != nil {
		return res, v, nil
	}
	return out, v, nil
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// walkStrings visits every string value of v (object members in key order) and replaces
// it with f's answer.
func walkStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i := range x {
			x[i] = walkStrings(x[i], f)
		}
		return x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			x[k] = walkStrings(x[k], f)
		}
		return x
	default:
		return v
	}
}
