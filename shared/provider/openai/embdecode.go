package openai

import (
	"encoding/json"
	"strconv"

	"github.com/tidwall/gjson"
)

// decodeEmbeddings reads an embeddings response. Float arrays are parsed by a scanner
// over one copy of the body: encoding/json spends about 270 µs on a 1536-dimension
// vector, this a fraction of it. Unexpected shapes go through encoding/json.
func decodeEmbeddings(b []byte) (*embedResponse, error) {
	if !gjson.ValidBytes(b) {
		return nil, errMalformed
	}
	root := gjson.Parse(string(b))
	if !root.IsObject() {
		return nil, notObject(root)
	}
	out := &embedResponse{}
	ok := true
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			var err error
			out.Model, err = str(v)
			ok = err == nil
		case "usage":
			switch {
			case v.IsObject():
				v.ForEach(func(uk, uv gjson.Result) bool {
					var n int64
					var err error
					switch uk.Str {
					case "prompt_tokens":
						n, err = integer(uv)
						out.Usage.PromptTokens = int(n)
					case "total_tokens":
						n, err = integer(uv)
						out.Usage.TotalTokens = int(n)
					default:
						err = foldsTo(uk.Str, embedUsageKeys)
					}
					ok = err == nil
					return ok
				})
			case v.Type != gjson.Null:
				ok = false
			}
		case "data":
			if v.Type == gjson.Null {
				return true
			}
			if !v.IsArray() {
				ok = false
				return false
			}
			out.Data = make([]embedDatum, 0, 4)
			v.ForEach(func(_, item gjson.Result) bool {
				if !item.IsObject() {
					ok = false
					return false
				}
				var d embedDatum
				item.ForEach(func(ik, iv gjson.Result) bool {
					switch ik.Str {
					case "index":
						n, err := integer(iv)
						d.Index, ok = int(n), err == nil
					case "embedding":
						switch {
						case iv.Type == gjson.String:
							if err := d.Embedding.UnmarshalJSON([]byte(iv.Raw)); err != nil {
								ok = false
							}
						case iv.IsArray():
							vec, good := parseFloats(iv.Raw)
							d.Embedding, ok = vec, good
						default:
							ok = false
						}
					default:
						ok = foldsTo(ik.Str, embedItemKeys) == nil
					}
					return ok
				})
				out.Data = append(out.Data, d)
				return ok
			})
		default:
			ok = foldsTo(k.Str, embedKeys) == nil
		}
		return ok
	})
	if !ok {
		var er embedResponse
		if err := json.Unmarshal(b, &er); err != nil {
			return nil, err
		}
		return &er, nil
	}
	return out, nil
}

// parseFloats parses a validated JSON array of numbers.
func parseFloats(raw string) ([]float32, bool) {
	n := 1
	for i := 0; i < len(raw); i++ {
		if raw[i] == ',' {
			n++
		}
	}
	out := make([]float32, 0, n)
	i := 1 // past '['
	for {
		for i < len(raw) && (raw[i] == ' ' || raw[i] == '\n' || raw[i] == '\t' || raw[i] == '\r') {
			i++
		}
		if i >= len(raw) {
			return nil, false
		}
		if raw[i] == ']' {
			return out, true
		}
		j := i
		for j < len(raw) && raw[j] != ',' && raw[j] != ']' && raw[j] != ' ' && raw[j] != '\n' && raw[j] != '\t' && raw[j] != '\r' {
			j++
		}
		f, err := strconv.ParseFloat(raw[i:j], 32)
		if err != nil {
			return nil, false // not a number (null, a nested value): let encoding/json decide
		}
		out = append(out, float32(f))
		for j < len(raw) && (raw[j] == ' ' || raw[j] == '\n' || raw[j] == '\t' || raw[j] == '\r') {
			j++
		}
		if j < len(raw) && raw[j] == ',' {
			j++
		}
		i = j
	}
}

var (
	embedKeys      = []string{"model", "usage", "data"}
	embedItemKeys  = []string{"index", "embedding"}
	embedUsageKeys = []string{"prompt_tokens", "total_tokens"}
)
