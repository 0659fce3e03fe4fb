package sealedblob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/blobtest"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/blob/sealedblob"
	"github.com/plinth-ai/plinth/shared/kms"
	"github.com/plinth-ai/plinth/shared/kms/filekms"
)

func dataKey(t *testing.T) (*kms.DataKey, *filekms.Manager) {
	t.Helper()
	m, err := filekms.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, _ := m.CreateKey(ctx, "t")
	_, wrapped, err := m.GenerateDataKey(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return kms.NewDataKey(m, id, wrapped, nil, kms.WithCacheTTL(0)), m
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		fs, err := fsblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		k, _ := dataKey(t)
		return sealedblob.New(fs, k)
	})
}

func TestObjectsAreSealed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs, err := fsblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, m := dataKey(t)
	s := sealedblob.New(fs, k)
	if _, err := s.Put(ctx, "tenants/acme/kb/docs/plan.txt", strings.NewReader("codename Quixotic"), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("Quixotic")) {
				t.Errorf("%s holds plaintext", p)
			}
		}
		return nil
	})
	rc, obj, err := s.Get(ctx, "tenants/acme/kb/docs/plan.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	if string(b) != "codename Quixotic" || obj.Size != int64(len(b)) {
		t.Errorf("read back %q (%d bytes)", b, obj.Size)
	}
	// A plaintext object dropped into the directory is refused.
	if _, err := fs.Put(ctx, "tenants/acme/kb/docs/dropped.txt", strings.NewReader("plain text"), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "tenants/acme/kb/docs/dropped.txt"); !errors.Is(err, kms.ErrNotSealed) {
		t.Errorf("plaintext: %v", err)
	}
	// Crypto-shredding: with the key deleted nothing reads.
	id := k.KeyID()
	if err := m.DeleteKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "tenants/acme/kb/docs/plan.txt"); !errors.Is(err, kms.ErrKeyUnavailable) {
		t.Errorf("read with the key deleted: %v", err)
	}
}
