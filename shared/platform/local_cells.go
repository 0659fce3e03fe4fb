package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/blob/sealedblob"
	"github.com/plinth-ai/plinth/shared/kms"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/sealedstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// localSilos are the local runtime's silo cells: <data dir>/tenants/<tenant>/ holds a
// silo tenant's own store file (plinth.db) and blob root (blobs/), both sealed with the
// tenant's own data key, which cell.json keeps wrapped by the tenant's key in the local
// key manager (<data dir>/kms/).
type localSilos struct {
	dir      string
	fsync    bool
	clock    func() time.Time
	keys     kms.KeyManager
	cacheTTL time.Duration

	mu      sync.Mutex
	closers []func() error
}

var _ SiloCells = (*localSilos)(nil)

// SiloDir is the directory of a silo tenant's cell in the local data directory.
func SiloDir(dataDir, tenantID string) string { return filepath.Join(dataDir, "tenants", tenantID) }

// cellRecord is a cell's cell.json: the key that wraps its data key, and the data key.
type cellRecord struct {
	Tenant    string    `json:"tenant"`
	KMSKeyID  string    `json:"kms_key_id"`
	DataKey   []byte    `json:"data_key"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *localSilos) Cell(ctx context.Context, id string) (Cell, error) {
	if !tenant.ValidID(id) {
		return Cell{}, fmt.Errorf("silo cell: %q is not a tenant ID", id)
	}
	root := filepath.Join(s.dir, id)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return Cell{}, fmt.Errorf("create silo cell: %w", err)
	}
	key, err := s.dataKey(ctx, root, id)
	if err != nil {
		return Cell{}, err
	}
	if err := key.Check(ctx); err != nil {
		return Cell{}, fmt.Errorf("silo tenant %s's data key: %w", id, err)
	}
	opts := []boltstore.Option{boltstore.WithClock(s.clock)}
	if !s.fsync {
		opts = append(opts, boltstore.WithNoSync())
	}
	bs, err := boltstore.Open(filepath.Join(root, "plinth.db"), opts...)
	if err != nil {
		return Cell{}, fmt.Errorf("open silo store: %w", err)
	}
	files, err := fsblob.New(filepath.Join(root, "blobs"))
	if err != nil {
		_ = bs.Close()
		return Cell{}, fmt.Errorf("open silo blob store: %w", err)
	}
	s.mu.Lock()
	s.closers = append(s.closers, bs.Close)
	s.mu.Unlock()
	blobs := sealedblob.New(files, key)
	return Cell{Store: sealedstore.New(bs, key), Blobs: Buckets{Documents: blobs, DocumentsName: "local", Index: blobs, Eval: blobs,
		Customization: blobs, CustomizationName: "local"}}, nil
}

// dataKey returns the cell's data key, creating the tenant's key and a data key for a
// new cell. A cell that has data but no key record is refused: its data would be read
// unsealed.
func (s *localSilos) dataKey(ctx context.Context, root, id string) (*kms.DataKey, error) {
	path := filepath.Join(root, "cell.json")
	encCtx := map[string]string{"tenant": id}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var rec cellRecord
		if err := json.Unmarshal(b, &rec); err != nil || rec.KMSKeyID == "" || len(rec.DataKey) == 0 || rec.Tenant != id {
			return nil, fmt.Errorf("silo tenant %s's cell.json is damaged", id)
		}
		return kms.NewDataKey(s.keys, rec.KMSKeyID, rec.DataKey, encCtx, kms.WithCacheTTL(s.cacheTTL), kms.WithClock(s.clock)), nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read silo tenant %s's cell.json: %w", id, err)
	}
	if _, err := os.Stat(filepath.Join(root, "plinth.db")); err == nil {
		return nil, fmt.Errorf("silo tenant %s's cell holds data but no key record (cell.json): refusing to read or write it unsealed", id)
	}
	keyID, err := s.keys.CreateKey(ctx, "Plinth silo tenant "+id)
	if err != nil {
		return nil, fmt.Errorf("create silo tenant %s's key: %w", id, err)
	}
	plain, wrapped, err := s.keys.GenerateDataKey(ctx, keyID, encCtx)
	if err != nil {
		return nil, fmt.Errorf("create silo tenant %s's data key: %w", id, err)
	}
	clear(plain)
	b, err = json.Marshal(cellRecord{Tenant: id, KMSKeyID: keyID, DataKey: wrapped, CreatedAt: s.clock().UTC()})
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("save silo tenant %s's cell.json: %w", id, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("save silo tenant %s's cell.json: %w", id, err)
	}
	return kms.NewDataKey(s.keys, keyID, wrapped, encCtx, kms.WithCacheTTL(s.cacheTTL), kms.WithClock(s.clock)), nil
}

// SiloKeyID returns the ID of the key (in the local key manager, <data dir>/kms) that a
// silo tenant's data is sealed with: disabling it stops every read and write of the
// tenant's data, deleting it makes the data unreadable for good.
func SiloKeyID(dataDir, tenantID string) (string, error) {
	b, err := os.ReadFile(filepath.Join(SiloDir(dataDir, tenantID), "cell.json"))
	if err != nil {
		return "", fmt.Errorf("silo tenant %s has no cell: %w", tenantID, err)
	}
	var rec cellRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return "", fmt.Errorf("silo tenant %s's cell.json: %w", tenantID, err)
	}
	return rec.KMSKeyID, nil
}

// KeysDir is the local key manager's directory in the data directory.
func KeysDir(dataDir string) string { return filepath.Join(dataDir, "kms") }

// Close closes every cell opened.
func (s *localSilos) Close(context.Context) error {
	s.mu.Lock()
	closers := s.closers
	s.closers = nil
	s.mu.Unlock()
	var errs []error
	for _, c := range closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}
