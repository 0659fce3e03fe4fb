package fsblob_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/blobtest"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
)

func newStore(t *testing.T) *fsblob.Store {
	t.Helper()
	s, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t) })
}

func TestInvalidKeys(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, key := range []string{"", "/abs", "../escape", "a/../../escape", "a/./b", "a//b", "a/", ".", "..", "a\\b", "nul\x00", ".plinth-meta/x", ".plinth-tmp", "\xff"} {
		t.Run(key, func(t *testing.T) {
			if _, err := s.Put(ctx, key, strings.NewReader("x"), blob.PutOptions{}); !errors.Is(err, fsblob.ErrInvalidKey) {
				t.Errorf("Put = %v; want ErrInvalidKey", err)
			}
			if _, _, err := s.Get(ctx, key); !errors.Is(err, fsblob.ErrInvalidKey) {
				t.Errorf("Get = %v; want ErrInvalidKey", err)
			}
			if _, err := s.Head(ctx, key); !errors.Is(err, fsblob.ErrInvalidKey) {
				t.Errorf("Head = %v; want ErrInvalidKey", err)
			}
			if err := s.Delete(ctx, key); !errors.Is(err, fsblob.ErrInvalidKey) {
				t.Errorf("Delete = %v; want ErrInvalidKey", err)
			}
		})
	}
	// Nothing escaped the root.
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.Root()), "escape")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file written outside the root: %v", err)
	}
}

func TestPlainFilesAndHandDroppedObjects(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Put(ctx, "tenants/acme/raw/a.txt", strings.NewReader("hello"), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.Root(), "tenants", "acme", "raw", "a.txt"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("object file = %q, %v", b, err)
	}
	// A file dropped in by hand is an object with a guessed type and a content ETag.
	if err := os.WriteFile(filepath.Join(s.Root(), "tenants", "acme", "raw", "b.md"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := s.List(ctx, "tenants/acme/")
	if err != nil || len(objs) != 2 {
		t.Fatalf("List = %+v, %v", objs, err)
	}
	if objs[1].Key != "tenants/acme/raw/b.md" || objs[1].ETag != objs[0].ETag || objs[1].ContentType != "text/markdown; charset=utf-8" {
		t.Fatalf("hand-dropped object = %+v (first %+v)", objs[1], objs[0])
	}
	// Deleting the last object of a folder removes the empty folders.
	for _, k := range []string{"tenants/acme/raw/a.txt", "tenants/acme/raw/b.md"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "tenants")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty folders left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), ".plinth-meta", "tenants")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty sidecar folders left behind: %v", err)
	}
}
