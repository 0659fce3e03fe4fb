// Package kmstest is the contract every adapter of the key-management port passes.
package kmstest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/plinth-ai/plinth/shared/kms"
)

// Manager is a key manager with the key administration crypto-shredding needs.
type Manager interface {
	kms.KeyManager
	DisableKey(ctx context.Context, id string) error
	EnableKey(ctx context.Context, id string) error
	// DeleteKey makes the key unusable for good (AWS KMS: scheduled for deletion).
	DeleteKey(ctx context.Context, id string) error
}

// Run checks the port's contract on managers newManager returns.
func Run(t *testing.T, newManager func(t *testing.T) Manager) {
	ctx := context.Background()
	encCtx := map[string]string{"tenant": "acme"}
	t.Run("wrap and unwrap", func(t *testing.T) {
		m := newManager(t)
		id, err := m.CreateKey(ctx, "tenant acme")
		if err != nil {
			t.Fatal(err)
		}
		plain, wrapped, err := m.GenerateDataKey(ctx, id, encCtx)
		if err != nil {
			t.Fatal(err)
		}
		if len(plain) != 32 || len(wrapped) == 0 || bytes.Contains(wrapped, plain) {
			t.Fatalf("data key: %d bytes, wrapped %d bytes", len(plain), len(wrapped))
		}
		got, err := m.Decrypt(ctx, id, wrapped, encCtx)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("unwrap: %v", err)
		}
		if _, err := m.Decrypt(ctx, id, wrapped, map[string]string{"tenant": "globex"}); !errors.Is(err, kms.ErrInvalidCiphertext) {
			t.Errorf("unwrap under another context: %v", err)
		}
		other, err := m.CreateKey(ctx, "tenant globex")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Decrypt(ctx, other, wrapped, encCtx); err == nil {
			t.Error("another key unwrapped the data key")
		}
		flipped := bytes.Clone(wrapped)
		flipped[len(flipped)-1] ^= 1
		if _, err := m.Decrypt(ctx, id, flipped, encCtx); !errors.Is(err, kms.ErrInvalidCiphertext) {
			t.Errorf("an altered wrapped key: %v", err)
		}
	})
	t.Run("disable, enable, delete", func(t *testing.T) {
		m := newManager(t)
		id, err := m.CreateKey(ctx, "tenant acme")
		if err != nil {
			t.Fatal(err)
		}
		_, wrapped, err := m.GenerateDataKey(ctx, id, encCtx)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.DisableKey(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Decrypt(ctx, id, wrapped, encCtx); !errors.Is(err, kms.ErrKeyUnavailable) {
			t.Errorf("unwrap with a disabled key: %v", err)
		}
		if _, _, err := m.GenerateDataKey(ctx, id, encCtx); !errors.Is(err, kms.ErrKeyUnavailable) {
			t.Errorf("a data key from a disabled key: %v", err)
		}
		if err := m.EnableKey(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Decrypt(ctx, id, wrapped, encCtx); err != nil {
			t.Errorf("unwrap after enabling: %v", err)
		}
		if err := m.DeleteKey(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Decrypt(ctx, id, wrapped, encCtx); !errors.Is(err, kms.ErrKeyUnavailable) {
			t.Errorf("unwrap with a deleted key: %v", err)
		}
		if err := m.EnableKey(ctx, id); err == nil {
			if _, err := m.Decrypt(ctx, id, wrapped, encCtx); err == nil {
				t.Error("a deleted key came back")
			}
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		m := newManager(t)
		if _, _, err := m.GenerateDataKey(ctx, "00000000-0000-4000-8000-000000000000", encCtx); !errors.Is(err, kms.ErrKeyNotFound) {
			t.Errorf("a data key from a key that does not exist: %v", err)
		}
	})
}
