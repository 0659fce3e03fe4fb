package boltstore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/plinth-ai/plinth/shared/store"
)

// Writes commit on their callers' goroutines: concurrent writers share commits, each sees
// every write before it, and a write that panics fails its own commit's writes without
// leaving the store without a leader.
func TestCallerLedCommits(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "plinth.db"), WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				it := store.Item{Key: store.Key{PK: "T#c", SK: fmt.Sprintf("w%d#%03d", w, i)}, Nums: map[string]float64{"n": float64(i)}}
				if _, err := s.Put(ctx, it, store.WriteOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	items, err := s.Query(ctx, "T#c", store.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != writers*each {
		t.Fatalf("%d items after %d writes", len(items), writers*each)
	}

	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recovered %v, want the write's panic", p)
			}
		}()
		_ = s.update(ctx, func(*bolt.Bucket, time.Time) error { panic("boom") })
	}()
	// The lead moved on: the next write commits, and Close does not wait for a leader.
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, store.Item{Key: store.Key{PK: "T#c", SK: "after"}}, store.WriteOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write after a panicking one never committed")
	}
	if s.leading {
		t.Error("the store still has a leader with nothing to commit")
	}
}
