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
// structured content, masking in place; a masked structured content is dropped (its
// masked text stays in content).
func (h *Hub) guardResult(ctx context.Context, c *Caller, res json.RawMessage) (json.RawMessage, GuardVerdict, error) {
	var r map[string]json.RawMessage
	if err := json.Unmarshal(res, &r); err != nil {
		return res, GuardVerdict{}, nil
	}
	var content []map[string]json.RawMessage
	_ = json.Unmarshal(r["content"], &content)
	type slot struct {
		item     int
		resource bool
	}
	var texts []string
	var slots []slot
	for i, item := range content {
		var typ string
		_ = json.Unmarshal(item["type"], &typ)
		switch typ {
		case "text":
			var t string
			if json.Unmarshal(item["text"], &t) == nil {
				texts, slots = append(texts, t), append(slots, slot{item: i})
			}
		case "resource":
			var rc map[string]json.RawMessage
			var t string
			if json.Unmarshal(item["resource"], &rc) == nil && json.Unmarshal(rc["text"], &t) == nil && t != "" {
				texts, slots = append(texts, t), append(slots, slot{item: i, resource: true})
			}
		}
	}
	structured := len(r["structuredContent"]) > 0 && string(r["structuredContent"]) != "null"
	if structured {
		texts = append(texts, string(r["structuredContent"]))
	}
	if len(texts) == 0 {
		return res, GuardVerdict{}, nil
	}
	v, err := h.guard.Check(ctx, c, GuardInput, texts)
	if err != nil || v.Blocked || !v.Changed || len(v.Texts) != len(texts) {
		return res, v, err
	}
	for k, sl := range slots {
		if v.Texts[k] == texts[k] {
			continue
		}
		s, _ := json.Marshal(v.Texts[k])
		if sl.resource {
			var rc map[string]json.RawMessage
			_ = json.Unmarshal(content[sl.item]["resource"], &rc)
			rc["text"] = s
			content[sl.item]["resource"], _ = json.Marshal(rc)
		} else {
			content[sl.item]["text"] = s
		}
	}
	r["content"], _ = json.Marshal(content)
	if structured && v.Texts[len(texts)-1] != texts[len(texts)-1] {
		delete(r, "structuredContent")
	}
	out, err := json.Marshal(r)
	if err != nil {
		return res, v, nil
	}
	return out, v, nil
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
