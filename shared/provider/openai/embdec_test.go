package openai

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func embeddingBody(n, dims int) []byte {
	var b strings.Builder
	b.WriteString(`{"object":"list","data":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"object":"embedding","index":` + strconv.Itoa(i) + `,"embedding":[`)
		for j := 0; j < dims; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(float64(j%97)/97-0.5+1e-9*float64(j), 'g', -1, 32))
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}}`)
	return []byte(b.String())
}

func BenchmarkDecodeEmbeddings(b *testing.B) {
	body := embeddingBody(4, 1536)
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeEmbeddings(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var er embedResponse
			if err := json.Unmarshal(body, &er); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestDecodeEmbeddingsMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	payloads := []string{
		string(embeddingBody(3, 16)),
		`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[ 1e-7 , -2.5E+3,0,3.4028235e38 ]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`,
		`{"data":[{"index":0,"embedding":"AACAPwAAAEA="}],"model":"m"}`,
		`{"data":[{"index":0,"embedding":[1,null]}]}`,
		`{"data":[{"index":"0","embedding":[1]}]}`,
		`{"data":"nope"}`,
		`{"data":[{"index":0,"embedding":[]}],"model":null}`,
	}
	for i, p := range payloads {
		var want embedResponse
		wantErr := json.Unmarshal([]byte(p), &want)
		got, err := decodeEmbeddings([]byte(p))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("payload %d: err %v, encoding/json %v", i, err, wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(*got, want) {
			t.Errorf("payload %d:\n got %+v\nwant %+v", i, *got, want)
		}
	}
}

func FuzzDecodeEmbeddings(f *testing.F) {
	f.Add(embeddingBody(1, 4))
	f.Add([]byte(`{"data":[{"index":0,"embedding":[1.5,-2e-3]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want embedResponse
		if json.Unmarshal(b, &want) != nil {
			decodeEmbeddings(b)
			return
		}
		got, err := decodeEmbeddings(b)
		if refusedNonObject(t, b, err) {
			return
		}
		if err != nil {
			t.Fatalf("fast decoder failed where encoding/json succeeded: %v", err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("got %+v want %+v", *got, want)
		}
	})
}
