package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// localSilos are the local runtime's silo cells: <data dir>/tenants/<tenant>/ holds a
// silo tenant's own store file (plinth.db) and blob root (blobs/).
type localSilos struct {
	dir   string
	fsync bool
	clock func() time.Time

	mu      sync.Mutex
	closers []func() error
}

var _ SiloCells = (*localSilos)(nil)

// SiloDir is the directory of a silo tenant's cell in the local data directory.
func SiloDir(dataDir, tenantID string) string { return filepath.Join(dataDir, "tenants", tenantID) }

func (s *localSilos) Cell(_ context.Context, id string) (Cell, error) {
	if !tenant.ValidID(id) {
		return Cell{}, fmt.Errorf("silo cell: %q is not a tenant ID", id)
	}
	root := filepath.Join(s.dir, id)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return Cell{}, fmt.Errorf("create silo cell: %w", err)
	}
	opts := []boltstore.Option{boltstore.WithClock(s.clock)}
	if !s.fsync {
		opts = append(opts, boltstore.WithNoSync())
	}
	bs, err := boltstore.Open(filepath.Join(root, "plinth.db"), opts...)
	if err != nil {
		return Cell{}, fmt.Errorf("open silo store: %w", err)
	}
	blobs, err := fsblob.New(filepath.Join(root, "blobs"))
	if err != nil {
		_ = bs.Close()
		return Cell{}, fmt.Errorf("open silo blob store: %w", err)
	}
	s.mu.Lock()
	s.closers = append(s.closers, bs.Close)
	s.mu.Unlock()
	return Cell{Store: bs, Blobs: Buckets{Documents: blobs, DocumentsName: "local", Index: blobs, Eval: blobs,
		Customization: blobs, CustomizationName: "local"}}, nil
}

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
