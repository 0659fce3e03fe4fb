// Package attack holds the prompt-attack classifier (Bedrock's PROMPT_ATTACK filter:
// jailbreaks and prompt injections): a textclass model (hashed word, bigram, WordNet
// concept and character 3-4-gram embeddings, averaged, one logistic output) trained by
// `go run ./test/cmd/guardtrain` on the deepset prompt-injection data and on attacks
// generated from a grammar written for the project (overrides in seven languages,
// persona jailbreaks, buried injections, obfuscation), against benign instructions of
// several sources (community role prompts, system prompts, generated look-alikes,
// instructions, harmful-but-direct requests), embedded in the binary with LOW/MEDIUM/HIGH
// thresholds chosen on held-back rows. It carries no hand-written cue lists.
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
