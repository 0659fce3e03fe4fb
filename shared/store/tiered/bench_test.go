package tiered_test

import (
	"testing"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/tiered"
)

var benchData = []byte(`{"id":"key-123","tenant":"acme","scopes":["chat","embeddings"],"created":"2026-01-01T00:00:00Z"}`)

// benchStores compares the embedded store alone (fsync on every commit, as in local mode)
// with the tiered store over it at the default flush interval.
func benchStores(b *testing.B) map[string]store.Store {
	return map[string]store.Store{
		"bolt":        openBolt(b),
		"tiered/bolt": newTiered(b, openBolt(b), tiered.WithPrefixes("QUOTA#", "USAGE")),
	}
}

func BenchmarkAddBounded(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			k := store.Key{PK: "QUOTA#acme", SK: "minute#1"}
			deltas := []store.Delta{{Name: "requests", By: 1, Max: 1e12, HasMax: true}, {Name: "tokens", By: 250, Max: 1e15, HasMax: true}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Add(ctx, k, deltas, store.AddOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAddBoundedParallel(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			k := store.Key{PK: "QUOTA#acme", SK: "minute#1"}
			deltas := []store.Delta{{Name: "tokens", By: 1, Max: 1e15, HasMax: true}}
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Add(ctx, k, deltas, store.AddOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkPut(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			item := store.Item{Key: store.Key{PK: "USAGEAGG#acme", SK: "20260101"}, Data: benchData}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Put(ctx, item, store.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutNewKeys writes a fresh usage record per call, as the gateway does: each
// first touch reads the back store once.
func BenchmarkPutNewKeys(b *testing.B) {
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			item := store.Item{Key: store.Key{PK: "USAGE#acme#20260101"}, Data: benchData}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				item.SK = "rec#" + itoa(i)
				if _, err := s.Put(ctx, item, store.WriteOptions{Cond: store.IfNotExists}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(i int) string {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(buf[n:])
		}
	}
}
