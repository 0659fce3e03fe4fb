package sealedstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/kms"
	"github.com/plinth-ai/plinth/shared/kms/filekms"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/store/sealedstore"
	"github.com/plinth-ai/plinth/shared/store/storetest"
)

func dataKey(t *testing.T, ttl time.Duration, now func() time.Time) (*kms.DataKey, *filekms.Manager) {
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
	return kms.NewDataKey(m, id, wrapped, nil, kms.WithCacheTTL(ttl), kms.WithClock(now)), m
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		k, _ := dataKey(t, time.Hour, nil)
		return sealedstore.New(memstore.New(), k)
	})
}

func TestDataIsSealedAndBoundToItsKey(t *testing.T) {
	ctx := context.Background()
	k, m := dataKey(t, 0, nil)
	under := memstore.New()
	s := sealedstore.New(under, k)
	key := store.Key{PK: "RAGKB#acme", SK: "docs"}
	if _, err := s.Put(ctx, store.Item{Key: key, Data: []byte(`{"secret":"Quixotic"}`)}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	raw, _ := under.Get(ctx, key)
	if bytes.Contains(raw.Data, []byte("Quixotic")) {
		t.Fatal("the store under it holds plaintext")
	}
	// Sealed data copied to another key does not open there.
	other := store.Key{PK: "RAGKB#acme", SK: "other"}
	_, _ = under.Put(ctx, store.Item{Key: other, Data: raw.Data}, store.WriteOptions{})
	if _, err := s.Get(ctx, other); !errors.Is(err, kms.ErrInvalidCiphertext) {
		t.Errorf("moved ciphertext: %v", err)
	}
	// Plaintext written around it is refused, not returned.
	plain := store.Key{PK: "RAGKB#acme", SK: "plain"}
	_, _ = under.Put(ctx, store.Item{Key: plain, Data: []byte(`{"secret":"x"}`)}, store.WriteOptions{})
	if _, err := s.Get(ctx, plain); !errors.Is(err, kms.ErrNotSealed) {
		t.Errorf("plaintext under a sealed store: %v", err)
	}
	if _, err := s.Query(ctx, "RAGKB#acme", store.QueryOptions{}); err == nil {
		t.Error("a query over unreadable items succeeded")
	}

	// With the key disabled nothing is served, counters kept in the clear included.
	counter := store.Key{PK: "USAGEAGG#acme", SK: "20260101"}
	if _, err := s.Add(ctx, counter, []store.Delta{{Name: "requests", By: 1}}, store.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.DisableKey(ctx, k.KeyID()); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"get": func() error { _, err := s.Get(ctx, counter); return err },
		"add": func() error {
			_, err := s.Add(ctx, counter, []store.Delta{{Name: "requests", By: 1}}, store.AddOptions{})
			return err
		},
		"query":    func() error { _, err := s.Query(ctx, "USAGEAGG#acme", store.QueryOptions{}); return err },
		"delete":   func() error { return s.Delete(ctx, counter, store.WriteOptions{}) },
		"transact": func() error { return s.Transact(ctx, []store.Op{{Kind: store.OpDelete, Key: counter}}) },
	} {
		if err := op(); !errors.Is(err, kms.ErrKeyUnavailable) {
			t.Errorf("%s with the key disabled: %v", name, err)
		}
	}
}
