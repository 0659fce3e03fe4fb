// Package content holds the harmful-content classifier for Amazon Bedrock's content
// filter categories HATE, INSULTS, SEXUAL, VIOLENCE and MISCONDUCT: a textclass model
// (hashed word, bigram and WordNet concept embeddings, averaged, one logistic output per
// category; HATE reads an embedding table of its own) trained by `go run ./test/cmd/guardtrain` on the harmful-content data and on
// generated rows (benign uses of charged words, hate without slurs, insults to the
// reader) and embedded in the binary, with per-category LOW/MEDIUM/HIGH thresholds chosen on
// held-back rows. It reads words, not intent: paraphrased harm without harmful words can
// pass and quoted or reported harm can be flagged.
package content

import (
	_ "embed"
	"sync"

	"github.com/plinth-ai/plinth/shared/guardrail/textclass"
)

//go:embed model.bin
var modelFile []byte

// Categories in output order.
var Categories = []string{"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"}

var (
	once  sync.Once
	model *textclass.Model
	err   error
)

// Model returns the embedded classifier, decoded once.
func Model() (*textclass.Model, error) {
	once.Do(func() { model, err = textclass.Load(modelFile) })
	return model, err
}

// ModelFile returns the embedded model file's bytes.
func ModelFile() []byte { return modelFile }
