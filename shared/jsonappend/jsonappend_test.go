package jsonappend

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand"
	"strings"
	"testing"
)

func TestStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	alphabet := []string{"a", "Z", "0", " ", "<", ">", "&", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f",
		"é", "€", "😀", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80", "\xf0\x9f\x98"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		var sb strings.Builder
		for n := rng.Intn(12); n > 0; n-- {
			sb.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		s := sb.String()
		html, _ := json.Marshal(s)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		plain := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := String(nil, s, true); !bytes.Equal(got, html) {
			t.Fatalf("%q escaping HTML: got %s, want %s", s, got, html)
		}
		if got := String(nil, s, false); !bytes.Equal(got, plain) {
			t.Fatalf("%q: got %s, want %s", s, got, plain)
		}
	}
}

func TestFloatMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(2))
	vals := []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.125, 5e-324, math.MaxFloat64, 0.1 + 0.2}
	for range 5000 {
		vals = append(vals, math.Float64frombits(rng.Uint64()))
	}
	for _, f := range vals {
		want, werr := json.Marshal(f)
		got, gerr := Float(nil, f)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("%v: error %v, encoding/json %v", f, gerr, werr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("%v: got %s, want %s", f, got, want)
		}
	}
}
