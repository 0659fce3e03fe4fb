package kms

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
)

// ErrNotSealed means a value that should be sealed is not: it is refused rather than
// read as plaintext.
var ErrNotSealed = errors.New("kms: value is not sealed")

// sealedMagic starts every sealed value: format 1, AES-256-GCM, a 12-byte nonce.
var sealedMagic = []byte{'p', 'e', 1}

// Overhead is how many bytes sealing adds to a value.
const Overhead = 3 + 12 + 16

// DefaultCacheTTL is how long an unwrapped data key is used before the key manager is
// asked again: disabling a key stops reads and writes within this time.
const DefaultCacheTTL = 5 * time.Minute

// DataKey seals and opens values with one data key, kept wrapped by a key of the key
// manager and unwrapped on use (then cached for the TTL).
type DataKey struct {
	km      KeyManager
	keyID   string
	wrapped []byte
	encCtx  map[string]string
	ttl     time.Duration
	now     func() time.Time

	mu    sync.Mutex
	aead  cipher.AEAD
	mac   []byte // the digest key, derived from the data key
	until time.Time
}

// DataKeyOption configures a DataKey.
type DataKeyOption func(*DataKey)

// WithCacheTTL sets how long an unwrapped data key is used (default DefaultCacheTTL; 0
// asks the key manager on every use).
func WithCacheTTL(d time.Duration) DataKeyOption { return func(k *DataKey) { k.ttl = d } }

// WithClock sets the clock of the cache (default time.Now).
func WithClock(now func() time.Time) DataKeyOption {
	return func(k *DataKey) {
		if now != nil {
			k.now = now
		}
	}
}

// NewDataKey returns the data key wrapped by keyID under encryptionContext.
func NewDataKey(km KeyManager, keyID string, wrapped []byte, encryptionContext map[string]string, opts ...DataKeyOption) *DataKey {
	if km == nil || keyID == "" || len(wrapped) == 0 {
		panic("kms.NewDataKey: nil key manager, key ID or wrapped key")
	}
	k := &DataKey{km: km, keyID: keyID, wrapped: bytes.Clone(wrapped), encCtx: maps.Clone(encryptionContext), ttl: DefaultCacheTTL, now: time.Now}
	for _, o := range opts {
		o(k)
	}
	return k
}

// KeyID is the ID of the key that wraps the data key.
func (k *DataKey) KeyID() string { return k.keyID }

// Usable reports whether the data key can be used now (from the cache, or unwrapped),
// failing as Seal and Open would: a gate for what is stored in the clear beside sealed
// data, such as counters.
func (k *DataKey) Usable(ctx context.Context) error {
	_, _, err := k.keys(ctx)
	return err
}

// Check unwraps the data key now, failing as Seal and Open would.
func (k *DataKey) Check(ctx context.Context) error {
	k.mu.Lock()
	k.until = time.Time{}
	k.mu.Unlock()
	_, err := k.cipher(ctx)
	return err
}

func (k *DataKey) cipher(ctx context.Context) (cipher.AEAD, error) {
	aead, _, err := k.keys(ctx)
	return aead, err
}

// keys returns the data key's cipher and digest key, unwrapping it when the cache has
// expired.
func (k *DataKey) keys(ctx context.Context) (cipher.AEAD, []byte, error) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.aead != nil && now.Before(k.until) {
		return k.aead, k.mac, nil
	}
	k.aead, k.mac = nil, nil
	plain, err := k.km.Decrypt(ctx, k.keyID, k.wrapped, k.encCtx)
	if err != nil {
		if errors.Is(err, ErrKeyUnavailable) {
			return nil, nil, fault.New(ErrKeyUnavailable, "", "the data is encrypted with key %s, which is unavailable (disabled or deleted): %v", k.keyID, err)
		}
		return nil, nil, fmt.Errorf("unwrap the data key with key %s: %w", k.keyID, err)
	}
	block, err := aes.NewCipher(plain)
	derive := hmac.New(sha256.New, plain)
	derive.Write([]byte("plinth digest"))
	mac := derive.Sum(nil)
	clear(plain)
	if err != nil {
		return nil, nil, fmt.Errorf("data key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	k.aead, k.mac, k.until = aead, mac, now.Add(k.ttl)
	return aead, mac, nil
}

// Digest is a keyed hash of data (HMAC-SHA256 under a key derived from the data key):
// equal for equal data, and telling nothing about it without the key, e.g. an object's
// ETag.
func (k *DataKey) Digest(ctx context.Context, data []byte) ([]byte, error) {
	_, key, err := k.keys(ctx)
	if err != nil {
		return nil, err
	}
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil), nil
}

// Seal encrypts plain, bound to aad (what the value is: its key).
func (k *DataKey) Seal(ctx context.Context, plain, aad []byte) ([]byte, error) {
	aead, err := k.cipher(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(sealedMagic)+aead.NonceSize(), len(sealedMagic)+aead.NonceSize()+len(plain)+aead.Overhead())
	copy(out, sealedMagic)
	if _, err := rand.Read(out[len(sealedMagic):]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[len(sealedMagic):], plain, aad), nil
}

// Open decrypts a value Seal made with the same aad. A value that is not sealed fails
// with ErrNotSealed, one sealed by another key or for another aad with
// ErrInvalidCiphertext.
func (k *DataKey) Open(ctx context.Context, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < Overhead || !bytes.HasPrefix(sealed, sealedMagic) {
		return nil, ErrNotSealed
	}
	aead, err := k.cipher(ctx)
	if err != nil {
		return nil, err
	}
	body := sealed[len(sealedMagic):]
	plain, err := aead.Open(nil, body[:aead.NonceSize()], body[aead.NonceSize():], aad)
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return plain, nil
}
