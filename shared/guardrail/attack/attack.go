// Package attack holds the prompt-attack classifier (Bedrock's PROMPT_ATTACK filter:
// jailbreaks and prompt injections): a textclass model (hashed word and character n-gram
// embeddings, averaged, one logistic output) trained by `go run ./test/cmd/guardtrain` on
// the deepset prompt-injection data against benign instructions of several sources
// (role and system prompts, instructions, harmful-but-direct requests), embedded in the
// binary with LOW/MEDIUM/HIGH thresholds chosen on held-back rows. It carries no
// hand-written cue lists.
package attack

import (
	_ "embed"
	"sync"

	"github.com/plinth-ai/plinth/shared/guardrail/textclass"
)

//go:embed model.bin
var modelFile []byte

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
