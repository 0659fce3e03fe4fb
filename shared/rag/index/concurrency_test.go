package index

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// Searches run on snapshots while writers upsert, delete and merge: every search sees a
// consistent index (each document either fully present or absent) and nothing races.
func TestSearchesDuringWritesAndMerges(t *testing.T) {
	ctx := context.Background()
	ix, err := NewManager(newBlob(t), WithMergeFactor(3), WithGarbageGrace(0)).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	const docs = 30
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < docs; i++ {
			id := fmt.Sprint(i)
			recs := []Record{
				{ChunkID: id + ":0", Text: "common term first half " + id},
				{ChunkID: id + ":1", Text: "common term second half " + id},
			}
			if err := ix.Upsert(ctx, id, recs); err != nil {
				errs <- err
				return
			}
			if i%5 == 4 {
				if err := ix.Delete(ctx, fmt.Sprint(i-2)); err != nil {
					errs <- err
					return
				}
			}
		}
		errs <- ix.Compact(ctx)
	}()
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				hits, err := ix.Search(ctx, Query{Text: "common term", Type: Lexical, TopK: 100})
				if err != nil {
					errs <- err
					return
				}
				per := map[string]int{}
				for _, h := range hits {
					per[h.DocID]++
				}
				for id, c := range per {
					if c != 2 {
						errs <- fmt.Errorf("document %s has %d of its 2 chunks visible", id, c)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s := ix.Stats(); s.LiveRows != 2*(docs-docs/5) || s.Segments != 1 {
		t.Fatalf("final stats %+v", s)
	}
}

// Concurrent upserts (grouped into shared manifest commits) keep exactly one version of
// each document.
func TestConcurrentUpsertsKeepOneVersionPerDocument(t *testing.T) {
	ctx := context.Background()
	ix, err := NewManager(newBlob(t), WithMergeFactor(4)).Open(ctx, "acme", "kb")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				id := fmt.Sprintf("d%d", i)
				v := fmt.Sprintf("writer%d", g)
				errs <- ix.Upsert(ctx, id, []Record{{ChunkID: id + ":0", Text: "common " + v}, {ChunkID: id + ":1", Text: "common " + v}})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	hits, err := ix.Search(ctx, Query{Text: "common", Type: Lexical, TopK: 100})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string][]string{}
	for _, h := range hits {
		per[h.DocID] = append(per[h.DocID], h.Text)
	}
	if len(per) != 10 {
		t.Fatalf("%d documents live, want 10", len(per))
	}
	for id, texts := range per {
		if len(texts) != 2 || texts[0] != texts[1] {
			t.Fatalf("document %s has chunks %q: versions mixed", id, texts)
		}
	}
}
