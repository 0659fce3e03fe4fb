package metrics

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

func TestTokenize13a(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"Hello, world!", "Hello , world !"},
		{"It wasn't surprising.", "It wasn't surprising ."},
		{"3.14 and 1,000 items", "3.14 and 1,000 items"},
		{"pages 3-4 of e-mail", "pages 3 - 4 of e-mail"},
		{"&quot;quoted&quot; &amp; &lt;tag&gt;", `" quoted " & < tag >`},
		{"cost: $5 (approx.)", "cost : $ 5 ( approx . )"},
		{"e.g. this", "e . g . this"},
		{"line one-\ntwo\nthree <skipped>", "line onetwo three"},
		{"  spaced\t\tout  ", "spaced out"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := Tokenize13a(c.in); got != c.want {
				t.Fatalf("Tokenize13a(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// The example in sacreBLEU's README: corpus_bleu with two reference streams prints
// "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)".
func TestCorpusBLEUReadmeExample(t *testing.T) {
	t.Parallel()
	hyps := []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
	refs := [][]string{
		{"The dog bit the man.", "The dog had bit the man."},
		{"It was not unexpected.", "No one was surprised."},
		{"The man bit him first.", "The man had bitten the dog."},
	}
	got, err := CorpusBLEU(hyps, refs)
	if err != nil {
		t.Fatal(err)
	}
	want := "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
	if got.String() != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestSentenceBLEU(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		hyp  string
		refs []string
		want float64
	}{
		{"identical", "The quick brown fox jumps over the lazy dog", []string{"The quick brown fox jumps over the lazy dog"}, 100},
		// 1-grams 2/3, 2-grams 1/2, 3-grams 0/1 smoothed to 100/(2*1); effective order 3.
		{"exp smoothing and effective order", "a b c", []string{"a b d"}, math.Cbrt(200.0 / 3 * 50 * 50)},
		// Closest reference length 4 (not 2): BP = exp(1-4/3).
		{"brevity penalty from closest ref", "a b c", []string{"x", "a b c d e f g", "a b c d"}, math.Exp(1-4.0/3) * 100},
		// Lengths 2 and 4 are equally close to 3: the shorter wins, so no penalty.
		{"closest ref tie takes the shorter", "a b c", []string{"a b c d", "x y"}, 100},
		{"no match", "x y z", []string{"a b c"}, 0},
		{"empty refs skipped", "a b", []string{"", "a b"}, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := SentenceBLEU(c.hyp, c.refs)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got.Score-c.want) > 1e-9 {
				t.Fatalf("sentence BLEU = %v (%s), want %v", got.Score, got, c.want)
			}
		})
	}
}

func TestCorpusBLEUShortSegmentsScoreZero(t *testing.T) {
	t.Parallel()
	// Without effective order a corpus with no 4-grams scores 0, as sacreBLEU does.
	got, err := CorpusBLEU([]string{"a b c"}, [][]string{{"a b c"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Score > 1e-6 {
		t.Fatalf("corpus BLEU = %v, want ~0", got.Score)
	}
	sent, err := SentenceBLEU("a b c", []string{"a b c"})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sent.Score-100) > 1e-9 {
		t.Fatalf("sentence BLEU = %v, want 100", sent.Score)
	}
}

func TestCorpusBLEUErrors(t *testing.T) {
	t.Parallel()
	if _, err := CorpusBLEU([]string{"a"}, [][]string{{""}}); !errors.Is(err, ErrNoReference) {
		t.Fatalf("empty references: err = %v", err)
	}
	if _, err := CorpusBLEU([]string{"a", "b"}, [][]string{{"a"}}); err == nil {
		t.Fatal("length mismatch accepted")
	}
}

func TestBLEUStatsAddMatchesCorpus(t *testing.T) {
	t.Parallel()
	hyps := []string{"The cat is on the mat today.", "There is a dog in the garden now."}
	refs := [][]string{{"The cat sat on the mat today."}, {"A dog is in the garden right now."}}
	var sum BLEUStats
	for i := range hyps {
		st, err := SegmentBLEUStats(hyps[i], refs[i])
		if err != nil {
			t.Fatal(err)
		}
		sum.Add(st)
	}
	corpus, err := CorpusBLEU(hyps, refs)
	if err != nil {
		t.Fatal(err)
	}
	if got := ComputeBLEU(sum, false); got.Score != corpus.Score || got.Score == 0 {
		t.Fatalf("summed stats %v vs corpus %v", got.Score, corpus.Score)
	}
}

// testdata/tokenize13a_perl.jsonl pairs 600 random lines (ASCII punctuation, digits,
// letters, a few non-ASCII letters) with the output of mteval-v13a.pl's tokenization
// regexes run by Perl (after sacreBLEU's rstrip), so Go's regexp engine is checked
// against Perl's on the exact expressions.
func TestTokenize13aMatchesPerl(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/tokenize13a_perl.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var pair [2]string
		if err := json.Unmarshal(sc.Bytes(), &pair); err != nil {
			t.Fatal(err)
		}
		n++
		if got := Tokenize13a(strings.TrimRightFunc(pair[0], pyIsSpace)); got != pair[1] {
			t.Errorf("Tokenize13a(%q) = %q, Perl gives %q", pair[0], got, pair[1])
		}
	}
	if n != 600 {
		t.Fatalf("read %d pairs, want 600", n)
	}
}
