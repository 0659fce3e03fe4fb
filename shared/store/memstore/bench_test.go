package memstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

var benchData = []byte(`{"id":"key-123","tenant":"acme","scopes":["chat","embeddings"],"created":"2026-01-01T00:00:00Z"}`)

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	s := memstore.New()
	for i := range 1000 {
		if _, err := s.Put(ctx, store.Item{Key: store.Key{PK: "tenant#acme", SK: fmt.Sprintf("key#%04d", i)}, Data: benchData}, store.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	key := store.Key{PK: "tenant#acme", SK: "key#0500"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	s := memstore.New()
	item := store.Item{Key: store.Key{PK: "tenant#acme", SK: "profile"}, Data: benchData}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Put(ctx, item, store.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddBounded(b *testing.B) {
	ctx := context.Background()
	s := memstore.New()
	key := store.Key{PK: "quota#acme", SK: "minute#1"}
	deltas := []store.Delta{{Name: "requests", By: 1, Max: 1e12, HasMax: true}, {Name: "tokens", By: 250, Max: 1e15, HasMax: true}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Add(ctx, key, deltas, store.AddOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddBoundedParallel(b *testing.B) {
	ctx := context.Background()
	s := memstore.New()
	key := store.Key{PK: "quota#acme", SK: "minute#1"}
	deltas := []store.Delta{{Name: "tokens", By: 1, Max: 1e15, HasMax: true}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Add(ctx, key, deltas, store.AddOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
