// Package kms is the key-management port and the envelope encryption built on it: a
// silo tenant's records and objects are sealed with a data key of its own, which is kept
// only wrapped by the tenant's key in the key manager (AWS KMS in AWS, a directory of
// key files locally, package filekms). Disabling or deleting that key makes the data
// unreadable (crypto-shredding): opening sealed data then fails with ErrKeyUnavailable,
// and nothing is ever read back as plaintext.
package kms

import (
	"context"
	"errors"

	"github.com/plinth-ai/plinth/shared/fault"
)

// Errors of the port. Adapters wrap them; callers test with errors.Is.
var (
	// ErrKeyUnavailable means the key cannot be used: it is disabled, pending deletion or
	// deleted, so data sealed under it cannot be read (or written) now.
	ErrKeyUnavailable = fault.Sentinel("kms: key unavailable", fault.ErrUnavailable)
	// ErrKeyNotFound means no key has the ID (it is an ErrKeyUnavailable).
	ErrKeyNotFound = fault.Sentinel("kms: key not found", ErrKeyUnavailable)
	// ErrInvalidCiphertext means a wrapped data key or sealed value was not made by this
	// key, or was altered.
	ErrInvalidCiphertext = errors.New("kms: invalid ciphertext")
)

// KeyManager is the key-management port: keys that never leave it, and data keys
// generated and unwrapped by them. Encryption contexts bind a wrapped data key to what it
// protects; unwrapping needs the same context.
type KeyManager interface {
	// CreateKey creates a symmetric key and returns its ID.
	CreateKey(ctx context.Context, description string) (keyID string, err error)
	// GenerateDataKey returns a new 256-bit data key in plaintext and wrapped by keyID.
	GenerateDataKey(ctx context.Context, keyID string, encryptionContext map[string]string) (plaintext, wrapped []byte, err error)
	// Decrypt unwraps a data key wrapped by keyID under the same encryption context.
	Decrypt(ctx context.Context, keyID string, wrapped []byte, encryptionContext map[string]string) ([]byte, error)
}
