package index

import (
	"bytes"
	"errors"
	"testing"
)

func TestSegmentRoundTripAndCorruption(t *testing.T) {
	recs := []Record{
		{ChunkID: "a:0", DocID: "a", Text: "alpha beta", Page: 2, Metadata: map[string]any{"k": "v"}, Vector: []float32{0.1, -0.2, 0.3}},
		{ChunkID: "b:0", DocID: "b", Text: "beta gamma", Vector: []float32{0, 0.5, 0}},
	}
	s, err := buildSegment(recs, 3)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.encode(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := decodeSegment(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.recs) != 2 || got.recs[0].Metadata["k"] != "v" || got.recs[0].Page != 2 {
		t.Fatalf("records %+v", got.recs)
	}
	if docs, _ := got.postings("beta"); len(docs) != 2 {
		t.Fatalf("postings of beta: %v", docs)
	}
	if !bytes.Equal(int8Bytes(got.denseVecs()), int8Bytes(s.denseVecs())) {
		t.Fatal("vectors changed in the round trip")
	}
	data := buf.Bytes()
	for name, bad := range map[string][]byte{
		"truncated":     data[:len(data)/2],
		"flipped bit":   append(append([]byte(nil), data[:len(data)-3]...), data[len(data)-3]^1, data[len(data)-2], data[len(data)-1]),
		"not a segment": []byte("hello"),
	} {
		if _, err := decodeSegment(bad); !errors.Is(err, ErrCorruptSegment) {
			t.Errorf("%s: err %v, want ErrCorruptSegment", name, err)
		}
	}
}

func int8Bytes(v []int8) []byte {
	out := make([]byte, len(v))
	for i, x := range v {
		out[i] = byte(x)
	}
	return out
}
