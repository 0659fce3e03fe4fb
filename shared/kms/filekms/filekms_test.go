package filekms_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/plinth-ai/plinth/shared/kms/filekms"
	"github.com/plinth-ai/plinth/shared/kms/kmstest"
)

func TestContract(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kmstest.Manager {
		m, err := filekms.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

// A deleted key leaves no material behind, and key files are private.
func TestDeleteDestroysMaterial(t *testing.T) {
	dir := t.TempDir()
	m, err := filekms.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := m.CreateKey(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, id+".json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	if err := m.DeleteKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if bytes.Contains(b, []byte("material")) {
			t.Errorf("%s still holds key material", e.Name())
		}
	}
}
