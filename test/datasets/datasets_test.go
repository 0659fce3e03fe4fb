package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPathFollowsTheSetting(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "squad"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "squad", "dev.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvVar, dir)
	got, err := Path("squad", "dev.json")
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(dir, "squad", "dev.json") {
		t.Fatalf("Path = %s, want the file under %s", got, dir)
	}
}

func TestMissingDataSaysWhereToGetIt(t *testing.T) {
	t.Setenv(EnvVar, t.TempDir())
	_, err := Path("retrieval", "scifact", "corpus.jsonl.gz")
	if !errors.Is(err, ErrMissing) {
		t.Fatalf("err = %v, want ErrMissing", err)
	}
	for _, want := range []string{EnvVar, "docs/datasets.md", filepath.Join("retrieval", "scifact", "corpus.jsonl.gz")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
}

func TestRelativeSettingIsTakenFromTheRepositoryRoot(t *testing.T) {
	t.Setenv(EnvVar, "test/datasets")
	got, err := Path("datasets.go")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if got != filepath.Join(wd, "datasets.go") {
		t.Fatalf("Path = %s, want this package's own file", got)
	}
}

func TestDefaultIsBesideTheRepository(t *testing.T) {
	t.Setenv(EnvVar, "")
	got, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	want := filepath.Join(wd, "..", "..", "..", "shared", "data")
	if got != want {
		t.Fatalf("Dir = %s, want %s", got, want)
	}
}

func TestMissingDirectorySaysSo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	t.Setenv(EnvVar, missing)
	_, err := Path()
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), missing+" does not exist") {
		t.Fatalf("err = %v, want a message naming the missing directory", err)
	}
}
