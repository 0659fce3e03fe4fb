package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Injection is one row of the deepset data (Label 1 = injection).
type Injection struct {
	Text  string
	Label int
}

// LoadInjection reads injection/deepset_prompt_injections_train.jsonl.
func LoadInjection(dataDir string) ([]Injection, error) {
	path := filepath.Join(dataDir, "injection", "deepset_prompt_injections_train.jsonl")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Injection
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row struct {
			Text  string `json:"text"`
			Label int    `json:"label"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, Injection{Text: row.Text, Label: row.Label})
	}
	return out, sc.Err()
}

// SquadDoc is the subset of SQuAD v2 used here.
type SquadDoc struct {
	Data []struct {
		Title      string `json:"title"`
		Paragraphs []struct {
			Context string `json:"context"`
			QAs     []struct {
				Question string `json:"question"`
				Answers  []struct {
					Text string `json:"text"`
				} `json:"answers"`
				Impossible bool `json:"is_impossible"`
			} `json:"qas"`
		} `json:"paragraphs"`
	} `json:"data"`
}

// LoadSquad reads squad/dev-v2.0-first5articles.json.
func LoadSquad(dataDir string) (*SquadDoc, error) {
	var d SquadDoc
	return &d, readJSON(filepath.Join(dataDir, "squad", "dev-v2.0-first5articles.json"), &d)
}

// Questions lists every question.
func (d *SquadDoc) Questions() []string {
	var out []string
	for _, a := range d.Data {
		for _, p := range a.Paragraphs {
			for _, q := range p.QAs {
				out = append(out, q.Question)
			}
		}
	}
	return out
}
