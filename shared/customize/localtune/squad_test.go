package localtune

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/plinth-ai/plinth/shared/eval/metrics"
	"github.com/plinth-ai/plinth/test/datasets"
)

type squadQA struct {
	article    string
	prompt     string
	references []string
}

// loadSQuAD returns the answerable questions with the prompt the evaluation service
// renders for an item with a context.
func loadSQuAD(t testing.TB) []squadQA {
	t.Helper()
	b, err := os.ReadFile(datasets.Require(t, "squad", "dev-v2.0-first5articles.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Data []struct {
			Title      string `json:"title"`
			Paragraphs []struct {
				Context string `json:"context"`
				QAs     []struct {
					Question     string `json:"question"`
					IsImpossible bool   `json:"is_impossible"`
					Answers      []struct {
						Text string `json:"text"`
					} `json:"answers"`
				} `json:"qas"`
			} `json:"paragraphs"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var out []squadQA
	for _, art := range f.Data {
		for _, p := range art.Paragraphs {
			for _, qa := range p.QAs {
				if qa.IsImpossible || len(qa.Answers) == 0 {
					continue
				}
				refs := make([]string, 0, len(qa.Answers))
				for _, a := range qa.Answers {
					refs = append(refs, a.Text)
				}
				out = append(out, squadQA{article: art.Title, prompt: "Context:\n" + p.Context + "\n\nQuestion: " + qa.Question, references: refs})
			}
		}
	}
	return out
}

func scoreF1(m *Model, qas []squadQA) (f1, em float64) {
	for _, qa := range qas {
		out, _, _ := m.Generate(qa.prompt, 0)
		f1 += metrics.F1(out, qa.references)
		em += metrics.ExactMatch(out, qa.references)
	}
	return 100 * f1 / float64(len(qas)), 100 * em / float64(len(qas))
}

// Training on four SQuAD articles must beat the untrained base on the fifth, an
// article the model never saw.
func TestTrainBeatsBaseOnHeldOutArticle(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on SQuAD")
	}
	qas := loadSQuAD(t)
	var train []Example
	var held []squadQA
	heldArticle := qas[len(qas)-1].article
	for _, qa := range qas {
		if qa.article == heldArticle {
			held = append(held, qa)
			continue
		}
		train = append(train, Example{Prompt: qa.prompt, Completion: qa.references[0]})
	}
	base := NewBase()
	baseF1, baseEM := scoreF1(base, held)
	m, rep, err := Train(context.Background(), base, train, DefaultHyperparameters())
	if err != nil {
		t.Fatal(err)
	}
	tunedF1, tunedEM := scoreF1(m, held)
	t.Logf("held-out article %q (%d questions): base F1 %.1f EM %.1f; tuned F1 %.1f EM %.1f; %d steps, first loss %.3f, last %.3f",
		heldArticle, len(held), baseF1, baseEM, tunedF1, tunedEM, len(rep.Steps), rep.Steps[0].TrainingLoss, rep.Steps[len(rep.Steps)-1].TrainingLoss)
	if tunedF1 <= baseF1+10 {
		t.Fatalf("tuned F1 %.1f does not beat base F1 %.1f by 10 points", tunedF1, baseF1)
	}
}
