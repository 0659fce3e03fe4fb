package platform

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDataDirectoryIsPrivate: everything the local platform keeps on disk (the store,
// keys, documents, index segments and their cache) is a 0600 file in a 0700 directory,
// and a data directory left readable by an older version is tightened on start.
func TestDataDirectoryIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blobs", "old", "segment"), []byte("document text"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(context.Background(), Config{DataDir: dir, AdminKey: "adm", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())

	// Write documents, index segments and the segment cache.
	do := func(method, path, ct string, body []byte, key string) int {
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		l.Handler.ServeHTTP(w, r)
		return w.Code
	}
	if code := do("POST", "/admin/knowledge-bases", "application/json", []byte(`{"tenant":"demo","id":"docs"}`), "adm"); code != 201 {
		t.Fatalf("create knowledge base: %d", code)
	}
	var form bytes.Buffer
	ct := multipartWriter(t, &form, "leave.md", "# Leave\nParental leave is sixteen weeks.\n", `{}`)
	if code := do("POST", "/v1/knowledge-bases/docs/documents", ct, form.Bytes(), l.DemoKey); code != 202 {
		t.Fatalf("upload: %d", code)
	}
	cached := false
	for range 200 {
		if do("POST", "/v1/knowledge-bases/docs/retrieve", "application/json", []byte(`{"query":"parental leave"}`), l.DemoKey) == 200 {
			_ = filepath.WalkDir(filepath.Join(dir, "index-cache"), func(_ string, d fs.DirEntry, _ error) error {
				cached = cached || (d != nil && !d.IsDir())
				return nil
			})
		}
		if cached {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if !cached {
		t.Fatal("no index segment was cached: the test did not exercise the segment cache")
	}

	files := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s is %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("only %d files under the data directory", files)
	}
}
