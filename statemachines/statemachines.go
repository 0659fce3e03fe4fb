// Package statemachines embeds the platform's Amazon States Language definitions so the
// local platform runs exactly the files CDK deploys.
package statemachines

import (
	"embed"
	"fmt"
	"regexp"
	"sort"
)

//go:embed *.asl.json
var files embed.FS

// Names of the platform's state machines (file name without .asl.json).
const (
	Ingestion     = "ingestion"
	Evaluation    = "evaluation"
	Agent         = "agent"
	Customization = "customization"
)

// Definition returns the definition named name.
func Definition(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".asl.json")
	if err != nil {
		return nil, fmt.Errorf("state machine %q: %w", name, err)
	}
	return b, nil
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Placeholders returns the ${Name} placeholders a definition uses, sorted.
func Placeholders(def []byte) []string {
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllSubmatch(def, -1) {
		seen[string(m[1])] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
