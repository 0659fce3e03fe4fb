package index

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cachedFiles lists the files under dir whose path mentions the tenant and knowledge base.
func cachedFiles(t *testing.T, dir, tenant, kb string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !d.IsDir() && (strings.Contains(rel, tenant+string(filepath.Separator)+kb) || strings.Contains(rel, tenant+"_"+kb)) {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDropRemovesCachedSegments: dropping a knowledge base's index leaves none of its
// segments in the local cache (nor any kept in the cache's earlier flat layout), and
// other knowledge bases keep theirs.
func TestDropRemovesCachedSegments(t *testing.T) {
	ctx := context.Background()
	b := newBlob(t)
	seed(t, NewManager(b), "acme", "kb")
	seed(t, NewManager(b), "acme", "other")
	cache := t.TempDir()
	// A file the earlier flat layout left behind.
	if err := os.WriteFile(filepath.Join(cache, "indexes_acme_kb_segments_old.seg"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := NewManager(b, WithCacheDir(cache))
	for _, kb := range []string{"kb", "other"} {
		ix, err := m.Open(ctx, "acme", kb)
		if err != nil {
			t.Fatal(err)
		}
		search(t, ix, Query{Text: "tides", TopK: 1, Type: Lexical})
	}
	if len(cachedFiles(t, cache, "acme", "kb")) < 2 {
		t.Fatalf("nothing cached to drop: %v", cachedFiles(t, cache, "acme", "kb"))
	}
	if err := m.Drop(ctx, "acme", "kb"); err != nil {
		t.Fatal(err)
	}
	if left := cachedFiles(t, cache, "acme", "kb"); len(left) > 0 {
		t.Fatalf("cached segments left after Drop: %v", left)
	}
	if len(cachedFiles(t, cache, "acme", "other")) == 0 {
		t.Fatal("Drop removed another knowledge base's cache")
	}
}

// TestMergedSegmentsLeaveTheCache: after a compaction, the replaced segments' cached
// copies are removed.
func TestMergedSegmentsLeaveTheCache(t *testing.T) {
	ctx := context.Background()
	b := newBlob(t)
	seed(t, NewManager(b, WithMergeFactor(100)), "acme", "kb")
	cache := t.TempDir()
	ix, err := NewManager(b, WithCacheDir(cache), WithGarbageGrace(0)).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	before := len(cachedFiles(t, cache, "acme", "kb"))
	if before < 2 {
		t.Fatalf("%d segments cached; want several before compaction", before)
	}
	if err := ix.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	search(t, ix, Query{Text: "tides", TopK: 1, Type: Lexical})
	if after := cachedFiles(t, cache, "acme", "kb"); len(after) > 1 {
		t.Fatalf("%d cached segments after compaction into one: %v", len(after), after)
	}
}
