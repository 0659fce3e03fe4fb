package kms_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/kms"
	"github.com/plinth-ai/plinth/shared/kms/filekms"
)

func TestDataKey(t *testing.T) {
	ctx := context.Background()
	m, err := filekms.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id, _ := m.CreateKey(ctx, "acme")
	_, wrapped, err := m.GenerateDataKey(ctx, id, map[string]string{"tenant": "acme"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := kms.NewDataKey(m, id, wrapped, map[string]string{"tenant": "acme"}, kms.WithCacheTTL(time.Minute), kms.WithClock(func() time.Time { return now }))

	sealed, err := k.Seal(ctx, []byte("the launch codename"), []byte("RAGKB#acme\x00docs"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("codename")) || len(sealed) != len("the launch codename")+kms.Overhead {
		t.Fatalf("sealed: %q", sealed)
	}
	if got, err := k.Open(ctx, sealed, []byte("RAGKB#acme\x00docs")); err != nil || string(got) != "the launch codename" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := k.Open(ctx, sealed, []byte("RAGKB#acme\x00other")); !errors.Is(err, kms.ErrInvalidCiphertext) {
		t.Errorf("open under another key: %v", err)
	}
	if _, err := k.Open(ctx, []byte(`{"plain":"json"}`), nil); !errors.Is(err, kms.ErrNotSealed) {
		t.Errorf("open plaintext: %v", err)
	}

	// A disabled key stops reads once the unwrapped data key's cache expires, loudly.
	if err := m.DisableKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open(ctx, sealed, []byte("RAGKB#acme\x00docs")); err != nil {
		t.Errorf("within the cache's TTL: %v", err)
	}
	now = now.Add(2 * time.Minute)
	_, err = k.Open(ctx, sealed, []byte("RAGKB#acme\x00docs"))
	if !errors.Is(err, kms.ErrKeyUnavailable) || !errors.Is(err, fault.ErrUnavailable) {
		t.Fatalf("open with the key disabled: %v", err)
	}
	if msg := fault.Message(err); !bytes.Contains([]byte(msg), []byte(id)) {
		t.Errorf("the error names no key: %q", msg)
	}
	if _, err := k.Seal(ctx, []byte("x"), nil); !errors.Is(err, kms.ErrKeyUnavailable) {
		t.Errorf("seal with the key disabled: %v", err)
	}
	if err := m.EnableKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := k.Check(ctx); err != nil {
		t.Errorf("after enabling: %v", err)
	}
}
