package metrics

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// testdata/python_semantics.jsonl holds 400 random strings rich in the cases where Go's
// and Python's string handling differ (final sigma, dotted capital I, Unicode spaces
// and digits, combining marks, ligatures, articles next to non-ASCII letters) with the
// outputs CPython 3.11 gives for the official SQuAD normalize_answer, rouge-score's
// tokenizer and sacreBLEU's 13a tokenizer, each run as the reference code runs it.
func TestPythonSemanticsGolden(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/python_semantics.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var c struct {
			In          string   `json:"in"`
			Normalize   string   `json:"normalize_answer"`
			ROUGETokens []string `json:"rouge_tokens"`
			Tokenize13a string   `json:"tokenize_13a"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		if got := NormalizeAnswer(c.In); got != c.Normalize {
			t.Errorf("NormalizeAnswer(%q) = %q, Python gives %q", c.In, got, c.Normalize)
		}
		if got := ROUGETokenize(c.In, nil); !(len(got) == 0 && len(c.ROUGETokens) == 0) && !reflect.DeepEqual(got, c.ROUGETokens) {
			t.Errorf("ROUGETokenize(%q) = %q, Python gives %q", c.In, got, c.ROUGETokens)
		}
		if got := Tokenize13a(c.In); got != c.Tokenize13a {
			t.Errorf("Tokenize13a(%q) = %q, Python gives %q", c.In, got, c.Tokenize13a)
		}
	}
	if n != 400 {
		t.Fatalf("read %d cases, want 400", n)
	}
}
