// Package datasets locates the third-party datasets (SciFact, SQuAD, Presidio's PII sets,
// prompt-injection and harmful-content sets, OpenAI's API schemas) that measurement tests
// and benchmark tools read. They are not part of the repository: docs/datasets.md lists
// every file and where to get it.
//
// One setting finds them: the environment variable PLINTH_DATASETS, a directory; a
// relative value is taken from the repository root. Unset, it is ../shared/data beside the
// repository root.
package datasets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// EnvVar is the environment variable naming the datasets directory.
const EnvVar = "PLINTH_DATASETS"

// Default is the datasets directory when EnvVar is unset, relative to the repository root.
const Default = "../shared/data"

// ErrMissing means a dataset file is not where the setting points.
var ErrMissing = errors.New("third-party dataset not found")

// Dir returns the datasets directory named by PLINTH_DATASETS (or the default) as an
// absolute path, without checking that it exists.
func Dir() (string, error) {
	dir := os.Getenv(EnvVar)
	if dir == "" {
		dir = Default
	}
	if filepath.IsAbs(dir) {
		return filepath.Clean(dir), nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, dir), nil
}

// Path returns the absolute path of a dataset file or directory (rel is relative to the
// datasets directory, e.g. "squad", "dev-v2.0-first5articles.json"). When it is missing
// the error says which setting to change and where to get the data.
func Path(rel ...string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(append([]string{dir}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		what := "the directory " + dir + " does not exist"
		if len(rel) > 0 {
			what = filepath.Join(rel...) + " is not in " + dir
		}
		return "", fmt.Errorf("%w: %s. Set %s to the directory holding the datasets "+
			"(a relative path is taken from the repository root; default %s); docs/datasets.md lists "+
			"each file and where to get it", ErrMissing, what, EnvVar, Default)
	}
	return p, nil
}

// Require is Path for tests: it fails tb with Path's message when the file is missing.
func Require(tb testing.TB, rel ...string) string {
	tb.Helper()
	p, err := Path(rel...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
