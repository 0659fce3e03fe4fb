package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

// Row is one labelled text of a source.
type Row struct {
	Text   string
	Source string
	// Category is the harmful-content category (HATE, INSULTS, SEXUAL, VIOLENCE,
	// MISCONDUCT), PROMPT_ATTACK for an injection, or "" for a benign text.
	Category string
	// Disputed lists the categories some annotators gave a benign row: HATE for a Davidson
	// tweet labelled "neither" by a majority while others voted hate speech (two in three
	// such rows hold a slur). Its label is the majority's; calibration does not hold those
	// categories' thresholds to it.
	Disputed []string
}

// Benign reports whether the row is labelled benign.
func (r Row) Benign() bool { return r.Category == "" }

// Split is the part of a source a row belongs to.
type Split int

// Splits: rows are assigned by a hash of their normalised text, 70% train, 15%
// calibration (thresholds are chosen here) and 15% test (figures are reported here).
const (
	Train Split = iota
	Calibration
	Test
)

// SplitOf returns the split of a text.
func SplitOf(text string) Split {
	h := fnv.New32a()
	h.Write([]byte(textnorm.Normalize(text)))
	switch v := h.Sum32() % 20; {
	case v < 14:
		return Train
	case v < 17:
		return Calibration
	}
	return Test
}

// Only returns the rows of one split.
func Only(rows []Row, s Split) []Row {
	var out []Row
	for _, r := range rows {
		if SplitOf(r.Text) == s {
			out = append(out, r)
		}
	}
	return out
}

// HarmfulSources are the files of the harmful-content data, in a fixed order.
var HarmfulSources = []string{"advbench", "harmbench", "strongreject", "jailbreakbench", "simplesafetytests", "openai_moderation", "davidson_hate_offensive", "alpaca"}

// LoadHarmful reads harmful/*.jsonl (see its README for the label mapping).
func LoadHarmful(dataDir string) ([]Row, error) {
	var out []Row
	for _, src := range HarmfulSources {
		path := filepath.Join(dataDir, "harmful", src+".jsonl")
		err := readJSONL(path, func(b []byte) error {
			var r struct {
				Text     string  `json:"text"`
				Label    string  `json:"label"`
				Category *string `json:"category"`
				Votes    string  `json:"source_label"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			row := Row{Text: r.Text, Source: src}
			if r.Label == "harmful" && r.Category != nil {
				row.Category = *r.Category
			}
			if row.Benign() {
				row.Disputed = disputed(r.Votes)
			}
			out = append(out, row)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// disputed returns the categories voted for in a source label of the form "neither
// (votes h/o/n=1/0/2)": HATE for a hate vote. Offensive votes are not counted: the
// INSULTS thresholds keep every "neither" tweet as a negative.
func disputed(label string) []string {
	_, votes, ok := strings.Cut(label, "votes h/o/n=")
	if !ok {
		return nil
	}
	parts := strings.SplitN(strings.TrimSuffix(votes, ")"), "/", 3)
	if len(parts) != 3 {
		return nil
	}
	var out []string
	if parts[0] != "0" {
		out = append(out, "HATE")
	}
	return out
}

// LoadInjectionRows reads the deepset prompt-injection train split as rows of source
// "deepset" (category PROMPT_ATTACK for injections).
func LoadInjectionRows(dataDir string) ([]Row, error) {
	ex, err := LoadInjection(dataDir)
	if err != nil {
		return nil, err
	}
	out := make([]Row, len(ex))
	for i, e := range ex {
		out[i] = Row{Text: e.Text, Source: "deepset"}
		if e.Label == 1 {
			out[i].Category = "PROMPT_ATTACK"
		}
	}
	return out, nil
}

func readJSONL(path string, each func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	n := 0
	for sc.Scan() {
		n++
		if err := each(sc.Bytes()); err != nil {
			return fmt.Errorf("%s line %d: %w", path, n, err)
		}
	}
	return sc.Err()
}

// sourceWeights gives every row a weight so that each (source, category) group carries
// a total weight that grows with the square root of its size: the 19,000 offensive tweets
// do not drown the 90 JailbreakBench requests, yet a large source still counts more.
// Weights are scaled to a mean of 1 over the rows that norm accepts (nil: all), so rows
// added for some labels only leave the weights of the others as they were.
func sourceWeights(rows []Row, norm func(Row) bool) []float64 {
	count := map[[2]string]int{}
	for _, r := range rows {
		count[[2]string{r.Source, r.Category}]++
	}
	w := make([]float64, len(rows))
	var sum float64
	n := 0
	for i, r := range rows {
		w[i] = 1 / math.Sqrt(float64(count[[2]string{r.Source, r.Category}]))
		if norm == nil || norm(r) {
			sum += w[i]
			n++
		}
	}
	for i := range w {
		w[i] *= float64(n) / sum
	}
	return w
}

// isGerman tells the German rows of the deepset data from the English ones by common
// German function words; it only splits the data for the cross-language figure.
func isGerman(text string) bool {
	n := 0
	for _, w := range strings.Fields(strings.ToLower(text)) {
		switch strings.Trim(w, ".,!?:;\"'") {
		case "der", "die", "das", "und", "ist", "nicht", "ich", "sie", "du", "ein", "eine", "mit", "auf", "für", "wie", "zu", "den", "dem":
			n++
		}
	}
	return n >= 2
}
