package eval

import (
	"encoding/json"
	"fmt"

	"github.com/plinth-ai/plinth/shared/provider"
)

// UnmarshalJSON reads an item in Plinth's shape and, for interchange, Amazon Bedrock
// model-evaluation's prompt dataset shape: "prompt" (input), "referenceResponse" (one
// reference) and, for bring-your-own responses, "modelResponses":[{"response"}]
// (output). "references" may be a string or a list; "contexts" a list of strings or of
// objects with a "text" field (as retrieval results are).
func (it *Item) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID                string             `json:"id"`
		Input             string             `json:"input"`
		Messages          []provider.Message `json:"messages"`
		References        json.RawMessage    `json:"references"`
		Contexts          json.RawMessage    `json:"contexts"`
		Output            *string            `json:"output"`
		Metadata          map[string]any     `json:"metadata"`
		Prompt            string             `json:"prompt"`
		ReferenceResponse *string            `json:"referenceResponse"`
		ModelResponses    []struct {
			Response string `json:"response"`
		} `json:"modelResponses"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*it = Item{ID: raw.ID, Input: raw.Input, Messages: raw.Messages, Output: raw.Output, Metadata: raw.Metadata}
	if it.Input == "" && len(it.Messages) == 0 {
		it.Input = raw.Prompt
	}
	refs, err := stringList(raw.References, "references")
	if err != nil {
		return err
	}
	it.References = refs
	if len(it.References) == 0 && raw.ReferenceResponse != nil {
		it.References = []string{*raw.ReferenceResponse}
	}
	if it.Output == nil && len(raw.ModelResponses) > 0 {
		out := raw.ModelResponses[0].Response
		it.Output = &out
	}
	if it.Contexts, err = stringList(raw.Contexts, "contexts"); err != nil {
		return err
	}
	return nil
}

// stringList decodes a string, a list of strings, or a list of objects with "text".
func stringList(raw json.RawMessage, field string) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, fmt.Errorf("%s must be a string or a list", field)
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		var s string
		if json.Unmarshal(p, &s) == nil {
			out = append(out, s)
			continue
		}
		var obj struct {
			Text    *string `json:"text"`
			Content *string `json:"content"`
		}
		if err := json.Unmarshal(p, &obj); err != nil || (obj.Text == nil && obj.Content == nil) {
			return nil, fmt.Errorf("%s entries must be strings or objects with a text field", field)
		}
		if obj.Text != nil {
			out = append(out, *obj.Text)
		} else {
			out = append(out, *obj.Content)
		}
	}
	return out, nil
}
