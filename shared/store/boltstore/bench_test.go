package boltstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
)

var benchData = []byte(`{"id":"key-123","tenant":"acme","scopes":["chat","embeddings"],"created":"2026-01-01T00:00:00Z"}`)

func benchOpts() map[string][]boltstore.Option {
	return map[string][]boltstore.Option{"sync": nil, "nosync": {boltstore.WithNoSync()}}
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	s := open(b)
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
	for name, opts := range benchOpts() {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := open(b, opts...)
			item := store.Item{Key: store.Key{PK: "tenant#acme", SK: "profile"}, Data: benchData}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Put(ctx, item, store.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAddBounded(b *testing.B) {
	for name, opts := range benchOpts() {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := open(b, opts...)
			key := store.Key{PK: "quota#acme", SK: "minute#1"}
			deltas := []store.Delta{{Name: "requests", By: 1, Max: 1e12, HasMax: true}, {Name: "tokens", By: 250, Max: 1e15, HasMax: true}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Add(ctx, key, deltas, store.AddOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkQuery20(b *testing.B) {
	ctx := context.Background()
	s := open(b, boltstore.WithNoSync())
	for i := range 1000 {
		if _, err := s.Put(ctx, store.Item{Key: store.Key{PK: "tenant#acme", SK: fmt.Sprintf("key#%04d", i)}, Data: benchData}, store.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		items, err := s.Query(ctx, "tenant#acme", store.QueryOptions{From: "key#0500", Limit: 20})
		if err != nil || len(items) != 20 {
			b.Fatal(len(items), err)
		}
	}
}

// BenchmarkAddBoundedParallel shows group commit: concurrent writers share fsyncs.
func BenchmarkAddBoundedParallel(b *testing.B) {
	for name, opts := range benchOpts() {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := open(b, opts...)
			key := store.Key{PK: "quota#acme", SK: "minute#1"}
			deltas := []store.Delta{{Name: "tokens", By: 1, Max: 1e15, HasMax: true}}
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Add(ctx, key, deltas, store.AddOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
