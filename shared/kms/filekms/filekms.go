// Package filekms is the local adapter of the key-management port: each key is a file
// in a directory (its 256-bit material and its state), and data keys are wrapped with
// AES-256-GCM under it, bound to the key's ID and the encryption context. Keys can be
// disabled, enabled again and deleted; deleting destroys the material, so everything
// sealed under the key's data keys is unreadable for good (crypto-shredding).
package filekms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/kms"
)

var _ kms.KeyManager = (*Manager)(nil)

// Key states, as AWS KMS names them.
const (
	StateEnabled  = "Enabled"
	StateDisabled = "Disabled"
)

// Manager keeps keys as files in a directory.
type Manager struct {
	dir string
	now func() time.Time
	mu  sync.Mutex
}

// Option configures a Manager.
type Option func(*Manager)

// WithClock stamps keys' creation with now (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(m *Manager) {
		if now != nil {
			m.now = now
		}
	}
}

// New returns the keys kept in dir (created 0700 if missing).
func New(dir string, opts ...Option) (*Manager, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filekms: %w", err)
	}
	m := &Manager{dir: dir, now: time.Now}
	for _, o := range opts {
		o(m)
	}
	return m, nil
}

// keyFile is a key as stored.
type keyFile struct {
	ID          string    `json:"id"`
	Description string    `json:"description,omitempty"`
	State       string    `json:"state"`
	Material    []byte    `json:"material"`
	CreatedAt   time.Time `json:"created_at"`
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func (m *Manager) path(id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", fault.New(kms.ErrKeyNotFound, "", "key %q does not exist", id)
	}
	return filepath.Join(m.dir, id+".json"), nil
}

func (m *Manager) load(id string) (*keyFile, error) {
	p, err := m.path(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fault.New(kms.ErrKeyNotFound, "", "key %s does not exist (deleted?)", id)
	}
	if err != nil {
		return nil, fmt.Errorf("filekms: read key %s: %w", id, err)
	}
	var k keyFile
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("filekms: key %s: %w", id, err)
	}
	return &k, nil
}

func (m *Manager) save(k *keyFile) error {
	p, err := m.path(k.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("filekms: write key %s: %w", k.ID, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("filekms: write key %s: %w", k.ID, err)
	}
	return nil
}

// usable returns the enabled key's AEAD.
func (m *Manager) usable(id string) (cipher.AEAD, error) {
	k, err := m.load(id)
	if err != nil {
		return nil, err
	}
	if k.State != StateEnabled {
		return nil, fault.New(kms.ErrKeyUnavailable, "", "key %s is %s", id, k.State)
	}
	block, err := aes.NewCipher(k.Material)
	if err != nil {
		return nil, fmt.Errorf("filekms: key %s: %w", id, err)
	}
	return cipher.NewGCM(block)
}

// aad binds a wrapped key to the key's ID and the encryption context.
func aad(id string, encCtx map[string]string) []byte {
	names := make([]string, 0, len(encCtx))
	for n := range encCtx {
		names = append(names, n)
	}
	sort.Strings(names)
	pairs := make([][2]string, len(names))
	for i, n := range names {
		pairs[i] = [2]string{n, encCtx[n]}
	}
	b, _ := json.Marshal(struct {
		Key     string      `json:"key"`
		Context [][2]string `json:"context"`
	}{id, pairs})
	return b
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// CreateKey implements kms.KeyManager.
func (m *Manager) CreateKey(_ context.Context, description string) (string, error) {
	id, err := newID()
	if err != nil {
		return "", err
	}
	k := &keyFile{ID: id, Description: description, State: StateEnabled, Material: make([]byte, 32), CreatedAt: m.now().UTC()}
	if _, err := rand.Read(k.Material); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.save(k); err != nil {
		return "", err
	}
	return id, nil
}

// GenerateDataKey implements kms.KeyManager.
func (m *Manager) GenerateDataKey(_ context.Context, keyID string, encCtx map[string]string) ([]byte, []byte, error) {
	aead, err := m.usable(keyID)
	if err != nil {
		return nil, nil, err
	}
	plain := make([]byte, 32)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(plain); err != nil {
		return nil, nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	return plain, aead.Seal(nonce, nonce, plain, aad(keyID, encCtx)), nil
}

// Decrypt implements kms.KeyManager.
func (m *Manager) Decrypt(_ context.Context, keyID string, wrapped []byte, encCtx map[string]string) ([]byte, error) {
	aead, err := m.usable(keyID)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < aead.NonceSize()+aead.Overhead() {
		return nil, kms.ErrInvalidCiphertext
	}
	plain, err := aead.Open(nil, wrapped[:aead.NonceSize()], wrapped[aead.NonceSize():], aad(keyID, encCtx))
	if err != nil {
		return nil, kms.ErrInvalidCiphertext
	}
	return plain, nil
}

func (m *Manager) setState(id, state string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.load(id)
	if err != nil {
		return err
	}
	k.State = state
	return m.save(k)
}

// DisableKey stops the key's use until EnableKey: data keys it wraps cannot be unwrapped.
func (m *Manager) DisableKey(_ context.Context, id string) error {
	return m.setState(id, StateDisabled)
}

// EnableKey lets a disabled key be used again.
func (m *Manager) EnableKey(_ context.Context, id string) error { return m.setState(id, StateEnabled) }

// DeleteKey destroys the key's material: every data key it wrapped, and all data sealed
// under them, is unreadable for good.
func (m *Manager) DeleteKey(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.path(id)
	if err != nil {
		return err
	}
	if _, err := m.load(id); err != nil {
		return err
	}
	// Overwrite the material before removing the file, so no copy is left in it.
	if err := os.WriteFile(p, []byte(`{"id":"`+id+`","state":"PendingDeletion"}`), 0o600); err != nil {
		return fmt.Errorf("filekms: delete key %s: %w", id, err)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("filekms: delete key %s: %w", id, err)
	}
	return nil
}

// State returns the key's state.
func (m *Manager) State(_ context.Context, id string) (string, error) {
	k, err := m.load(id)
	if err != nil {
		return "", err
	}
	return k.State, nil
}
