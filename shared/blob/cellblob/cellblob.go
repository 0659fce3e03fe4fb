// Package cellblob is a blob.Store that keeps each tenant's objects in the tenant's
// cell: keys under a tenant prefix ("<prefix>/<tenant>/...") go to the blob store of
// that tenant's cell when it has one of its own (a silo tenant), every other key to the
// central store. Listings that name no tenant visit every cell.
package cellblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/fault"
)

var _ blob.Store = (*Router)(nil)

// Cells finds tenants' blob stores.
type Cells interface {
	// Blobs returns the blob store of the tenant's own cell, or nil when its objects
	// live in the central store.
	Blobs(ctx context.Context, tenant string) (blob.Store, error)
	// Silos lists the tenants whose objects live in cells of their own.
	Silos(ctx context.Context) ([]string, error)
}

// Router routes objects by the tenant their key names.
type Router struct {
	central     blob.Store
	cells       Cells
	prefixes    []string
	unavailable func(tenant string, err error)
}

// New returns a router over the central store and silo tenants' cells: keys
// "<p>/<tenant>/..." for each p of tenantPrefixes are the tenant's.
func New(central blob.Store, cells Cells, tenantPrefixes ...string) *Router {
	if central == nil || cells == nil {
		panic("cellblob.New: nil central store or cells")
	}
	return &Router{central: central, cells: cells, prefixes: slices.Clone(tenantPrefixes)}
}

// WithUnavailable returns r telling fn of every silo cell a listing across cells leaves
// out because it is unavailable (fault.ErrUnavailable: its key is disabled or deleted).
func (r *Router) WithUnavailable(fn func(tenant string, err error)) *Router {
	r.unavailable = fn
	return r
}

func (r *Router) skip(tenant string, err error) bool {
	if !errors.Is(err, fault.ErrUnavailable) {
		return false
	}
	if r.unavailable != nil {
		r.unavailable(tenant, err)
	}
	return true
}

// Tenant returns the tenant key belongs to, if it is under a tenant prefix.
func (r *Router) Tenant(key string) (string, bool) {
	first, rest, ok := strings.Cut(key, "/")
	if !ok || !slices.Contains(r.prefixes, first) {
		return "", false
	}
	tenant, _, ok := strings.Cut(rest, "/")
	if !ok || tenant == "" {
		return "", false
	}
	return tenant, true
}

func (r *Router) storeFor(ctx context.Context, key string) (blob.Store, error) {
	t, ok := r.Tenant(key)
	if !ok {
		return r.central, nil
	}
	st, err := r.cells.Blobs(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("cellblob: cell of tenant %s: %w", t, err)
	}
	if st == nil {
		return r.central, nil
	}
	return st, nil
}

// Put stores the object in its tenant's cell.
func (r *Router) Put(ctx context.Context, key string, body io.Reader, opts blob.PutOptions) (blob.Object, error) {
	st, err := r.storeFor(ctx, key)
	if err != nil {
		return blob.Object{}, err
	}
	return st.Put(ctx, key, body, opts)
}

// Get reads the object from its tenant's cell.
func (r *Router) Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error) {
	st, err := r.storeFor(ctx, key)
	if err != nil {
		return nil, blob.Object{}, err
	}
	return st.Get(ctx, key)
}

// Head describes the object in its tenant's cell.
func (r *Router) Head(ctx context.Context, key string) (blob.Object, error) {
	st, err := r.storeFor(ctx, key)
	if err != nil {
		return blob.Object{}, err
	}
	return st.Head(ctx, key)
}

// Delete removes the object from its tenant's cell.
func (r *Router) Delete(ctx context.Context, key string) error {
	st, err := r.storeFor(ctx, key)
	if err != nil {
		return err
	}
	return st.Delete(ctx, key)
}

// List lists one tenant's cell when prefix names the tenant ("indexes/acme/"), else
// every cell, merged in key order.
func (r *Router) List(ctx context.Context, prefix string) ([]blob.Object, error) {
	if _, ok := r.Tenant(prefix); ok {
		st, err := r.storeFor(ctx, prefix)
		if err != nil {
			return nil, err
		}
		return st.List(ctx, prefix)
	}
	out, err := r.central.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	silos, err := r.cells.Silos(ctx)
	if err != nil {
		return nil, fmt.Errorf("cellblob: list cells: %w", err)
	}
	merged := false
	for _, t := range silos {
		st, err := r.cells.Blobs(ctx, t)
		if r.skip(t, err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cellblob: cell of tenant %s: %w", t, err)
		}
		if st == nil {
			continue
		}
		objs, err := st.List(ctx, prefix)
		if r.skip(t, err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		// A silo's cell holds only its own tenant's objects.
		for _, o := range objs {
			if owner, ok := r.Tenant(o.Key); ok && owner == t {
				out = append(out, o)
				merged = true
			}
		}
	}
	if merged {
		sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	}
	return out, nil
}
