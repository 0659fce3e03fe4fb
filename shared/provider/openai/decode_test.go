package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

var chunkPayloads = []string{
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"caf\u00e9 \"quoted\"\n\ttab \ud83d\ude00 <b>&amp;"},"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":0}}}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":1,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"a\":1}"}}]},"logprobs":{"content":[{"token":"x","logprob":-0.1}]},"finish_reason":null}]}`,
	`{"choices":[{"delta":{"content":"no id"}}]}`,
	`{"id":"c","created":1.5,"choices":[]}`,
	`{"id":7,"choices":[]}`,
	`{"error":{"message":"boom","type":"server_error","param":null,"code":null}}`,
}

func normalizeChunk(c *provider.ChatChunk) {
	for i := range c.Choices {
		if string(c.Choices[i].Logprobs) == "null" {
			c.Choices[i].Logprobs = nil
		}
	}
}

// TestDecodeChunkMatchesEncodingJSON holds the fast decoder to encoding/json's results.
func TestDecodeChunkMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for i, p := range chunkPayloads {
		var want chunkOrError
		wantErr := json.Unmarshal([]byte(p), &want)
		got, ae, err := decodeChunk([]byte(p))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("payload %d: err %v, encoding/json err %v", i, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		normalizeChunk(&want.ChatChunk)
		normalizeChunk(got)
		if !reflect.DeepEqual(*got, want.ChatChunk) {
			t.Errorf("payload %d:\n got %+v\nwant %+v", i, *got, want.ChatChunk)
		}
		if !reflect.DeepEqual(ae, want.Error) {
			t.Errorf("payload %d: error %+v, want %+v", i, ae, want.Error)
		}
	}
}

var responsePayloads = []string{
	`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello \u2014 \"world\"","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"completion_tokens_details":{"reasoning_tokens":0}},"service_tier":"default","system_fingerprint":"fp_1"}`,
	`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"x\":\"y\"}"}}]},"finish_reason":"tool_calls"}]}`,
	`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":[{"type":"text","text":"parts"}]},"finish_reason":"stop"}]}`,
	`{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"x","refusal":"no"},"finish_reason":"content_filter","logprobs":{"content":[]}}]}`,
	`{"id":"c","choices":"nope"}`,
	`[1,2]`,
	`{"id":"c",`,
}

func TestDecodeResponseMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for i, p := range responsePayloads {
		var want provider.ChatResponse
		wantErr := json.Unmarshal([]byte(p), &want)
		got, err := decodeResponse([]byte(p))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("payload %d: err %v, encoding/json err %v", i, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		for j := range want.Choices {
			if string(want.Choices[j].Logprobs) == "null" {
				want.Choices[j].Logprobs = nil
			}
		}
		for j := range got.Choices {
			if string(got.Choices[j].Logprobs) == "null" {
				got.Choices[j].Logprobs = nil
			}
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("payload %d:\n got %+v\nwant %+v", i, *got, want)
		}
	}
}

// refusedNonObject accepts the one way the decoders may differ from encoding/json on a
// body it decodes: refusing valid JSON that is not an object (encoding/json decodes
// null into an empty struct). It fails the test if err says so of an object.
func refusedNonObject(t *testing.T, b []byte, err error) bool {
	t.Helper()
	if !errors.Is(err, errNotObject) {
		return false
	}
	if trimmed := bytes.TrimLeft(b, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		t.Fatalf("object refused as not an object: %v", err)
	}
	return true
}

// TestDecodersAgreeOnStringsAndRefuseNonObjects pins what the fuzz targets found: a
// lone UTF-16 surrogate escape followed by another \u escape decoded differently from
// encoding/json, and a JSON null body passed for an empty answer.
func TestDecodersAgreeOnStringsAndRefuseNonObjects(t *testing.T) {
	t.Parallel()
	for _, s := range []string{`\ud800\u0000`, `\ud800\u0041`, `\udc00\ud800`, `x\ud800`, `\ud800\\`, `\ud83d\ude00 ok`, `\ud800\ud800\udc00`} {
		for _, p := range []string{
			`{"choices":[{"delta":{"content":"` + s + `","role":"` + s + `"}}],"id":"` + s + `"}`,
			`{"choices":[{"message":{"content":"` + s + `","refusal":"` + s + `"}}],"model":"` + s + `"}`,
		} {
			var wantChunk chunkOrError
			if err := json.Unmarshal([]byte(p), &wantChunk); err != nil {
				t.Fatal(err)
			}
			gotChunk, _, err := decodeChunk([]byte(p))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			normalizeChunk(&wantChunk.ChatChunk)
			normalizeChunk(gotChunk)
			if !reflect.DeepEqual(*gotChunk, wantChunk.ChatChunk) {
				t.Errorf("chunk %s: got %q, want %q", p, gotChunk.ID, wantChunk.ID)
			}
			var wantResp provider.ChatResponse
			if err := json.Unmarshal([]byte(p), &wantResp); err != nil {
				t.Fatal(err)
			}
			gotResp, err := decodeResponse([]byte(p))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if !reflect.DeepEqual(*gotResp, wantResp) {
				t.Errorf("response %s: got model %q, want %q", p, gotResp.Model, wantResp.Model)
			}
		}
	}
	for _, body := range []string{`null`, ` null `, `[]`, `"x"`, `1`, `true`} {
		if _, _, err := decodeChunk([]byte(body)); !errors.Is(err, errNotObject) {
			t.Errorf("chunk %s: err %v, want errNotObject", body, err)
		}
		if _, err := decodeResponse([]byte(body)); !errors.Is(err, errNotObject) {
			t.Errorf("response %s: err %v, want errNotObject", body, err)
		}
		if _, err := decodeEmbeddings([]byte(body)); !errors.Is(err, errNotObject) {
			t.Errorf("embeddings %s: err %v, want errNotObject", body, err)
		}
	}
}

func FuzzDecodeChunk(f *testing.F) {
	for _, p := range chunkPayloads {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want chunkOrError
		if json.Unmarshal(b, &want) != nil {
			decodeChunk(b) // must not panic
			return
		}
		got, _, err := decodeChunk(b)
		if refusedNonObject(t, b, err) {
			return
		}
		if err != nil {
			t.Fatalf("fast decoder failed where encoding/json succeeded: %v", err)
		}
		normalizeChunk(&want.ChatChunk)
		normalizeChunk(got)
		if !reflect.DeepEqual(*got, want.ChatChunk) {
			t.Fatalf("got %+v want %+v", *got, want.ChatChunk)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	for _, p := range responsePayloads {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want provider.ChatResponse
		if json.Unmarshal(b, &want) != nil {
			decodeResponse(b) // must not panic
			return
		}
		got, err := decodeResponse(b)
		if refusedNonObject(t, b, err) {
			return
		}
		if err != nil {
			t.Fatalf("fast decoder failed where encoding/json succeeded: %v", err)
		}
		for _, cs := range [][]provider.Choice{want.Choices, got.Choices} {
			for j := range cs {
				if string(cs[j].Logprobs) == "null" {
					cs[j].Logprobs = nil
				}
			}
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("got %+v want %+v", *got, want)
		}
	})
}
