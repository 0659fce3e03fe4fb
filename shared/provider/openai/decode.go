package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/plinth-ai/plinth/shared/provider"
)

// The decoders below read OpenAI's response and chunk objects in one pass without
// reflection: strings are slices of one copy of the payload, so a typical chunk costs
// four allocations instead of fifteen. Shapes they do not expect (array content, odd
// types) go through encoding/json instead, which stays the reference behaviour.

var errMalformed = errors.New("malformed JSON")

// errNotObject refuses a body that is valid JSON but not an object. encoding/json
// would decode `null` into an empty response, which would pass for an answer without
// choices (or an embeddings response without vectors); no OpenAI-compatible server
// means that, so the decoders say what they got instead.
var errNotObject = errors.New("JSON body is not an object")

// notObject describes a valid JSON value that is not an object, for errNotObject.
func notObject(root gjson.Result) error {
	kind := "a " + strings.ToLower(root.Type.String())
	switch {
	case root.Type == gjson.Null:
		kind = "null"
	case root.IsArray():
		kind = "an array"
	}
	return fmt.Errorf("%w: got %s", errNotObject, kind)
}

// errFallback asks for the encoding/json path.
var errFallback = errors.New("use encoding/json")

func decodeChunk(b []byte) (*provider.ChatChunk, *apiError, error) {
	if !gjson.ValidBytes(b) {
		return nil, nil, errMalformed
	}
	root := gjson.Parse(string(b))
	if !root.IsObject() {
		return nil, nil, notObject(root)
	}
	c := &provider.ChatChunk{}
	var ae *apiError
	var err error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			c.ID, err = str(v)
		case "object":
			c.Object, err = str(v)
		case "created":
			c.Created, err = integer(v)
		case "model":
			c.Model, err = str(v)
		case "system_fingerprint":
			c.SystemFingerprint, err = str(v)
		case "usage":
			c.Usage, err = usage(v)
		case "choices":
			switch {
			case v.IsArray():
				c.Choices = make([]provider.ChunkChoice, 0, 1)
				v.ForEach(func(_, ch gjson.Result) bool {
					var cc provider.ChunkChoice
					if cc, err = chunkChoice(ch); err == nil {
						c.Choices = append(c.Choices, cc)
					}
					return err == nil
				})
			case v.Type != gjson.Null:
				err = errFallback
			}
		case "error":
			if v.IsObject() {
				ae = new(apiError)
				err = json.Unmarshal([]byte(v.Raw), ae)
			}
		default:
			err = foldsTo(k.Str, chunkKeys)
		}
		return err == nil
	})
	if err != nil {
		return slowChunk(b)
	}
	return c, ae, nil
}

func slowChunk(b []byte) (*provider.ChatChunk, *apiError, error) {
	var ce chunkOrError
	if err := json.Unmarshal(b, &ce); err != nil {
		return nil, nil, err
	}
	return &ce.ChatChunk, ce.Error, nil
}

func chunkChoice(v gjson.Result) (provider.ChunkChoice, error) {
	var cc provider.ChunkChoice
	if !v.IsObject() {
		return cc, errFallback
	}
	var err error
	v.ForEach(func(k, f gjson.Result) bool {
		switch k.Str {
		case "index":
			var n int64
			n, err = integer(f)
			cc.Index = int(n)
		case "finish_reason":
			cc.FinishReason, err = strPtr(f)
		case "logprobs":
			if f.Type != gjson.Null {
				cc.Logprobs = json.RawMessage(f.Raw)
			}
		case "delta":
			if !f.IsObject() {
				err = errFallback
				return false
			}
			f.ForEach(func(dk, dv gjson.Result) bool {
				switch dk.Str {
				case "role":
					cc.Delta.Role, err = str(dv)
				case "content":
					cc.Delta.Content, err = strPtr(dv)
				case "refusal":
					cc.Delta.Refusal, err = strPtr(dv)
				case "tool_calls":
					if dv.Type != gjson.Null {
						err = json.Unmarshal([]byte(dv.Raw), &cc.Delta.ToolCalls)
					}
				default:
					err = foldsTo(dk.Str, deltaKeys)
				}
				return err == nil
			})
		default:
			err = foldsTo(k.Str, chunkChoiceKeys)
		}
		return err == nil
	})
	return cc, err
}

func decodeResponse(b []byte) (*provider.ChatResponse, error) {
	if !gjson.ValidBytes(b) {
		return nil, errMalformed
	}
	root := gjson.Parse(string(b))
	if !root.IsObject() {
		return nil, notObject(root)
	}
	r := &provider.ChatResponse{}
	var err error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			r.ID, err = str(v)
		case "object":
			r.Object, err = str(v)
		case "created":
			r.Created, err = integer(v)
		case "model":
			r.Model, err = str(v)
		case "system_fingerprint":
			r.SystemFingerprint, err = str(v)
		case "usage":
			r.Usage, err = usage(v)
		case "choices":
			if !v.IsArray() {
				err = errFallback
				return false
			}
			r.Choices = make([]provider.Choice, 0, 1)
			v.ForEach(func(_, ch gjson.Result) bool {
				var c provider.Choice
				if c, err = choice(ch); err == nil {
					r.Choices = append(r.Choices, c)
				}
				return err == nil
			})
		default:
			err = foldsTo(k.Str, responseKeys)
		}
		return err == nil
	})
	if err != nil {
		out := new(provider.ChatResponse)
		if err := json.Unmarshal(b, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return r, nil
}

func choice(v gjson.Result) (provider.Choice, error) {
	var c provider.Choice
	if !v.IsObject() {
		return c, errFallback
	}
	var err error
	v.ForEach(func(k, f gjson.Result) bool {
		switch k.Str {
		case "index":
			var n int64
			n, err = integer(f)
			c.Index = int(n)
		case "finish_reason":
			if f.Type != gjson.Null {
				c.FinishReason, err = str(f)
			}
		case "logprobs":
			c.Logprobs = json.RawMessage(f.Raw)
		case "message":
			if !f.IsObject() {
				err = errFallback
				return false
			}
			f.ForEach(func(mk, mv gjson.Result) bool {
				switch mk.Str {
				case "role":
					c.Message.Role, err = str(mv)
				case "name":
					c.Message.Name, err = str(mv)
				case "content":
					switch mv.Type {
					case gjson.String:
						var text string
						if text, err = str(mv); err != nil {
							return false
						}
						c.Message.Content = provider.Content{Text: text}
					case gjson.Null:
						c.Message.Content = provider.Content{Null: true}
					default:
						err = errFallback
					}
				case "refusal":
					c.Message.Refusal, err = strPtr(mv)
				case "tool_calls":
					if mv.Type != gjson.Null {
						err = json.Unmarshal([]byte(mv.Raw), &c.Message.ToolCalls)
					}
				default:
					err = foldsTo(mk.Str, messageKeys)
				}
				return err == nil
			})
		default:
			err = foldsTo(k.Str, choiceKeys)
		}
		return err == nil
	})
	return c, err
}

// str reads a string the way encoding/json would, or asks for encoding/json where
// gjson's unescaping differs from it: invalid UTF-8 (encoding/json substitutes U+FFFD
// per bad byte) and lone UTF-16 surrogates (gjson pairs "\ud800" with whatever \u
// escape follows, swallowing it).
func str(v gjson.Result) (string, error) {
	switch v.Type {
	case gjson.String:
		if !utf8.ValidString(v.Str) || hasLoneSurrogate(v.Raw) {
			return "", errFallback
		}
		return v.Str, nil
	case gjson.Null:
		return "", nil
	}
	return "", errFallback
}

func strPtr(v gjson.Result) (*string, error) {
	switch v.Type {
	case gjson.String:
		s, err := str(v)
		if err != nil {
			return nil, err
		}
		return &s, nil
	case gjson.Null:
		return nil, nil
	}
	return nil, errFallback
}

// hasLoneSurrogate reports whether a raw JSON string holds a \u escape of a UTF-16
// surrogate that is not half of a high-low pair.
func hasLoneSurrogate(raw string) bool {
	if !strings.Contains(raw, `\u`) {
		return false
	}
	high := false // the previous escape was a high surrogate awaiting its low half
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			if high {
				return true
			}
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' || i+4 >= len(raw) {
			if high {
				return true
			}
			continue
		}
		r, err := strconv.ParseUint(raw[i+1:i+5], 16, 16)
		i += 4
		if err != nil {
			continue // not valid JSON; ValidBytes has refused it already
		}
		switch {
		case r >= 0xd800 && r < 0xdc00:
			if high {
				return true
			}
			high = true
		case r >= 0xdc00 && r < 0xe000:
			if !high {
				return true
			}
			high = false
		default:
			if high {
				return true
			}
		}
	}
	return high
}

func integer(v gjson.Result) (int64, error) {
	switch v.Type {
	case gjson.Number:
		if n := v.Int(); float64(n) == v.Num {
			return n, nil
		}
	case gjson.Null:
		return 0, nil
	}
	return 0, errFallback
}

func usage(v gjson.Result) (*provider.Usage, error) {
	switch {
	case v.Type == gjson.Null:
		return nil, nil
	case !v.IsObject():
		return nil, errFallback
	}
	u := &provider.Usage{}
	var err error
	v.ForEach(func(k, f gjson.Result) bool {
		var n int64
		switch k.Str {
		case "prompt_tokens":
			n, err = integer(f)
			u.PromptTokens = int(n)
		case "completion_tokens":
			n, err = integer(f)
			u.CompletionTokens = int(n)
		case "total_tokens":
			n, err = integer(f)
			u.TotalTokens = int(n)
		default:
			err = foldsTo(k.Str, usageKeys)
		}
		return err == nil
	})
	return u, err
}

// Field names per object, for foldsTo.
var (
	chunkKeys       = []string{"id", "object", "created", "model", "system_fingerprint", "usage", "choices", "error"}
	chunkChoiceKeys = []string{"index", "finish_reason", "logprobs", "delta"}
	deltaKeys       = []string{"role", "content", "refusal", "tool_calls"}
	responseKeys    = []string{"id", "object", "created", "model", "system_fingerprint", "usage", "choices"}
	choiceKeys      = []string{"index", "finish_reason", "logprobs", "message"}
	messageKeys     = []string{"role", "name", "content", "refusal", "tool_calls", "tool_call_id", "tool_error"}
	usageKeys       = []string{"prompt_tokens", "completion_tokens", "total_tokens"}
)

// foldsTo sends a key that matches a field only case-insensitively to encoding/json,
// which matches field names that way.
func foldsTo(key string, known []string) error {
	for _, k := range known {
		if len(k) == len(key) && strings.EqualFold(k, key) {
			return errFallback
		}
	}
	return nil
}
