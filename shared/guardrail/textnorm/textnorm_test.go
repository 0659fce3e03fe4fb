package textnorm

import "testing"

func TestNormalize(t *testing.T) {
	tests := map[string]string{
		"Héllo, WORLD!":     "hello world",
		"sh1t and $tuff":    "shit and stuff",
		"Straße ÆSIR":       "strasse aesir",
		"don't stop":        "dont stop",
		"version 2.0 in 3D": "version 2 0 in 3d",
		"f*ck":              "f*ck",
	}
	for in, want := range tests {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTokenOffsets(t *testing.T) {
	text := "Ünïcode wörds"
	var z Tokenizer
	toks := z.Reset(text)
	if len(toks) != 2 || text[toks[1].Start:toks[1].End] != "wörds" || toks[1].Norm != "words" {
		t.Fatalf("tokens = %+v", toks)
	}
}

func TestStemAndSentences(t *testing.T) {
	if Stem("running") != "run" || Stem("topics") != "topic" || Stem("studies") != "study" {
		t.Errorf("stems: %s %s %s", Stem("running"), Stem("topics"), Stem("studies"))
	}
	if s := Sentences("One. Two! Three?\nFour 3.5 five"); len(s) != 4 {
		t.Errorf("sentences = %q", s)
	}
}
