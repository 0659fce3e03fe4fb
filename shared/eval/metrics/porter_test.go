package metrics

import (
	"os"
	"strings"
	"testing"
)

// Stems NLTK's PorterStemmer() (NLTK_EXTENSIONS) gives, from Porter's paper and NLTK's
// docstrings, checked by hand against the rules.
func TestPorterStemmer(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"caresses": "caress", "ponies": "poni", "ties": "tie", "caress": "caress", "cats": "cat",
		"feed": "feed", "agreed": "agre", "disabled": "disabl", "matting": "mat", "mating": "mate",
		"meeting": "meet", "milling": "mill", "messing": "mess", "meetings": "meet",
		"happy": "happi", "enjoy": "enjoy", "lazy": "lazi", "sky": "sky", "skies": "sky",
		"dying": "die", "flies": "fli", "dies": "die", "spied": "spi", "died": "die",
		"generalization": "gener", "relational": "relat", "national": "nation",
		"connection": "connect", "hopefulness": "hope", "running": "run", "jumps": "jump",
		"proceed": "proceed", "news": "news", "is": "is", "a": "a",
	}
	var s PorterStemmer
	for in, want := range cases {
		t.Run(in, func(t *testing.T) {
			if got := s.Stem(in); got != want {
				t.Fatalf("Stem(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestROUGEWithStemmer(t *testing.T) {
	t.Parallel()
	plain, _ := NewROUGEScorer([]string{"rouge1"})
	stemmed, _ := NewROUGEScorer([]string{"rouge1"}, WithPorterStemmer())
	// rouge-score README pair: 6 shared unigrams of 9 target and 8 predicted tokens.
	target, pred := "The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log."
	want := 2 * (6.0 / 8) * (6.0 / 9) / (6.0/8 + 6.0/9)
	if got := stemmed.Score(target, pred)["rouge1"].FMeasure; !near(got, want) {
		t.Fatalf("stemmed rouge1 = %v, want %v", got, want)
	}
	// Stemming makes inflections match: "connections"/"connected" both stem to "connect".
	if got := plain.Score("connections failed", "connected")["rouge1"].FMeasure; got != 0 {
		t.Fatalf("unstemmed rouge1 = %v, want 0", got)
	}
	if got := stemmed.Score("connections failed", "connected")["rouge1"].FMeasure; !near(got, 2*1*0.5/1.5) {
		t.Fatalf("stemmed rouge1 = %v", got)
	}
	// Tokens of three characters or fewer are not stemmed ("ties" is, "its" is not).
	if got := ROUGETokenize("its ties", PorterStemmer{}); got[0] != "its" || got[1] != "tie" {
		t.Fatalf("tokens %q", got)
	}
}

// testdata/porter_nltk.tsv holds NLTK 3.8's stems (Debian's python3-nltk) of 3,988
// words; regenerate with:
//
//	python3 -c 'from nltk.stem import porter; s = porter.PorterStemmer(); print(s.stem(w))'
func TestPorterStemmerMatchesNLTK(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/porter_nltk.tsv")
	if err != nil {
		t.Fatal(err)
	}
	n, bad := 0, 0
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("malformed line %q", line)
		}
		n++
		if got := (PorterStemmer{}).Stem(word); got != want {
			bad++
			if bad <= 20 {
				t.Errorf("Stem(%q) = %q, NLTK gives %q", word, got, want)
			}
		}
	}
	if n < 3000 {
		t.Fatalf("only %d words in the golden file", n)
	}
}
