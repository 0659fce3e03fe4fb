package cellstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
)

var _ store.Store = (*Router)(nil)

// ErrNoOwner means a write's key, data and context name no tenant and its partition is
// in no cell yet: the router cannot tell where it belongs, and writes nothing rather than
// guess (the layout or the writer must name the owner).
var ErrNoOwner = errors.New("cellstore: the record's tenant is unknown")

// ErrCrossCell means a transaction's operations belong to several cells, which cannot
// commit together; nothing was written.
var ErrCrossCell = errors.New("cellstore: a transaction spans cells")

// Cells finds tenants' cells.
type Cells interface {
	// Store returns the store of the tenant's own cell, or nil when its records live in
	// the central store (a tenant of the pool, or an ID the platform does not know).
	Store(ctx context.Context, tenant string) (store.Store, error)
	// Silos lists the tenants whose records live in cells of their own: reads of
	// partitions tenants share visit their stores too.
	Silos(ctx context.Context) ([]string, error)
}

// Router is a store.Store that keeps each tenant's records in the tenant's cell and
// the platform's in the central store, as its layout places them. Pool tenants' cell is
// the central store, so a platform without silos behaves exactly as its central store.
type Router struct {
	central     store.Store
	cells       Cells
	layout      *Layout
	unavailable func(tenant string, err error)
}

// Option configures a Router.
type Option func(*Router)

// WithUnavailable is told of every silo cell a read across cells leaves out because it
// is unavailable (fault.ErrUnavailable: its key is disabled or deleted). Such a cell's
// records are missing from listings across tenants; its own tenant's requests fail.
func WithUnavailable(fn func(tenant string, err error)) Option {
	return func(r *Router) { r.unavailable = fn }
}

// New returns a router over the central store and the cells of silo tenants.
func New(centralStore store.Store, cells Cells, layout *Layout, opts ...Option) *Router {
	if centralStore == nil || cells == nil || layout == nil {
		panic("cellstore.New: nil central store, cells or layout")
	}
	r := &Router{central: centralStore, cells: cells, layout: layout}
	for _, o := range opts {
		o(r)
	}
	return r
}

// skip reports whether a read across cells leaves c out after err: a silo cell that is
// unavailable.
func (r *Router) skip(c cell, err error) bool {
	if c.tenant == "" || !errors.Is(err, fault.ErrUnavailable) {
		return false
	}
	if r.unavailable != nil {
		r.unavailable(c.tenant, err)
	}
	return true
}

// cell is one store the router writes to: the central store (tenant "") or a silo
// tenant's.
type cell struct {
	tenant string
	st     store.Store
}

func (r *Router) cellOf(ctx context.Context, tenant string) (cell, error) {
	if tenant == "" {
		return cell{st: r.central}, nil
	}
	st, err := r.cells.Store(ctx, tenant)
	if err != nil {
		return cell{}, fmt.Errorf("cellstore: cell of tenant %s: %w", tenant, err)
	}
	if st == nil {
		return cell{st: r.central}, nil
	}
	return cell{tenant: tenant, st: st}, nil
}

// all is the central store, then every silo's.
func (r *Router) all(ctx context.Context) ([]cell, error) {
	silos, err := r.cells.Silos(ctx)
	if err != nil {
		return nil, fmt.Errorf("cellstore: list cells: %w", err)
	}
	out := []cell{{st: r.central}}
	for _, t := range silos {
		c, err := r.cellOf(ctx, t)
		if r.skip(cell{tenant: t}, err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.tenant != "" {
			out = append(out, c)
		}
	}
	return out, nil
}

// place returns the cell of the record with key (and, when hasData, data); ok is false
// for an OwnedBy record whose data names no owner.
func (r *Router) place(ctx context.Context, key store.Key, data []byte, hasData bool) (c cell, p Placement, ok bool, err error) {
	p, prefix := r.layout.match(key.PK)
	switch p.kind {
	case tenantInPK:
		c, err = r.cellOf(ctx, segment(key.PK, prefix))
		return c, p, true, err
	case tenantInSK:
		if !strings.HasPrefix(key.SK, p.skPrefix) {
			return cell{st: r.central}, p, true, nil
		}
		c, err = r.cellOf(ctx, segment(key.SK, p.skPrefix))
		return c, p, true, err
	case ownedBy:
		if hasData {
			if t, found := owner(data, p.fields); found || p.shared {
				c, err = r.cellOf(ctx, t)
				return c, p, true, err
			}
		}
		return cell{}, p, false, nil
	default:
		return cell{st: r.central}, p, true, nil
	}
}

// locate finds the cell holding key, else the one holding key's partition.
func (r *Router) locate(ctx context.Context, key store.Key) (cell, bool, error) {
	cells, err := r.all(ctx)
	if err != nil {
		return cell{}, false, err
	}
	for _, c := range cells {
		_, err := c.st.Get(ctx, key)
		if err == nil {
			return c, true, nil
		}
		if !errors.Is(err, store.ErrNotFound) && !r.skip(c, err) {
			return cell{}, false, err
		}
	}
	for _, c := range cells {
		items, err := c.st.Query(ctx, key.PK, store.QueryOptions{Limit: 1})
		if r.skip(c, err) {
			continue
		}
		if err != nil {
			return cell{}, false, err
		}
		if len(items) > 0 {
			return c, true, nil
		}
	}
	return cell{}, false, nil
}

// placeWrite is place, then, for a record whose data names no owner, where its key or
// partition is, then the context's owner.
func (r *Router) placeWrite(ctx context.Context, key store.Key, data []byte, hasData bool) (cell, Placement, error) {
	c, p, ok, err := r.place(ctx, key, data, hasData)
	if err != nil || ok {
		return c, p, err
	}
	c, ok, err = r.locate(ctx, key)
	if err != nil || ok {
		return c, p, err
	}
	if t, ok := store.OwnerFrom(ctx); ok {
		c, err = r.cellOf(ctx, t)
		return c, p, err
	}
	return cell{}, p, fmt.Errorf("%w: %s/%s names no tenant and its partition is in no cell", ErrNoOwner, key.PK, key.SK)
}

// takenElsewhere reports whether a cell other than c holds a live item with key: IDs of
// OwnedBy partitions are unique across cells, as they were in one table.
func (r *Router) takenElsewhere(ctx context.Context, c cell, key store.Key) (bool, error) {
	cells, err := r.all(ctx)
	if err != nil {
		return false, err
	}
	for _, o := range cells {
		if o.tenant == c.tenant {
			continue
		}
		_, err := o.st.Get(ctx, key)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrNotFound) && !r.skip(o, err) {
			return false, err
		}
	}
	return false, nil
}

func creates(opts store.WriteOptions) bool {
	return opts.Cond == store.IfNotExists || (opts.Cond == store.IfVersion && opts.Version == 0)
}

// Get returns the item from its cell; an OwnedBy item is looked for in every cell.
func (r *Router) Get(ctx context.Context, key store.Key) (store.Item, error) {
	c, _, ok, err := r.place(ctx, key, nil, false)
	if err != nil {
		return store.Item{}, err
	}
	if ok {
		return c.st.Get(ctx, key)
	}
	cells, err := r.all(ctx)
	if err != nil {
		return store.Item{}, err
	}
	var last error
	for _, c := range cells {
		it, err := c.st.Get(ctx, key)
		if err == nil {
			return it, nil
		}
		if r.skip(c, err) {
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.Item{}, err
		}
		last = err
	}
	if last == nil {
		last = fmt.Errorf("cellstore: get %s/%s: %w", key.PK, key.SK, store.ErrNotFound)
	}
	return store.Item{}, last
}

// Put writes the item to its cell.
func (r *Router) Put(ctx context.Context, item store.Item, opts store.WriteOptions) (int64, error) {
	c, p, err := r.placeWrite(ctx, item.Key, item.Data, true)
	if err != nil {
		return 0, err
	}
	if p.kind == ownedBy && creates(opts) {
		taken, err := r.takenElsewhere(ctx, c, item.Key)
		if err != nil {
			return 0, err
		}
		if taken {
			return 0, fmt.Errorf("cellstore: put %s/%s: %w", item.Key.PK, item.Key.SK, store.ErrConditionFailed)
		}
	}
	return c.st.Put(ctx, item, opts)
}

// Delete removes the item from its cell; an OwnedBy item from the cell holding it.
func (r *Router) Delete(ctx context.Context, key store.Key, opts store.WriteOptions) error {
	c, _, ok, err := r.place(ctx, key, nil, false)
	if err != nil {
		return err
	}
	if !ok {
		found := false
		if c, found, err = r.locate(ctx, key); err != nil {
			return err
		}
		if !found {
			c = cell{st: r.central} // nowhere: the central store answers as for any missing item
		}
	}
	return c.st.Delete(ctx, key, opts)
}

// Add changes the counters of the item in its cell.
func (r *Router) Add(ctx context.Context, key store.Key, deltas []store.Delta, opts store.AddOptions) (store.Item, error) {
	c, _, err := r.placeWrite(ctx, key, opts.Set, opts.Set != nil)
	if err != nil {
		return store.Item{}, err
	}
	return c.st.Add(ctx, key, deltas, opts)
}

// Query reads the partition from its cell; a partition tenants share, or one keyed by
// an ID, from every cell, merged in sort-key order.
func (r *Router) Query(ctx context.Context, pk string, opts store.QueryOptions) ([]store.Item, error) {
	p, prefix := r.layout.match(pk)
	var target *cell
	switch p.kind {
	case central:
		target = &cell{st: r.central}
	case tenantInPK:
		c, err := r.cellOf(ctx, segment(pk, prefix))
		if err != nil {
			return nil, err
		}
		target = &c
	case tenantInSK:
		if rest, ok := strings.CutPrefix(opts.Prefix, p.skPrefix); ok && strings.Contains(rest, "#") {
			c, err := r.cellOf(ctx, segment(opts.Prefix, p.skPrefix))
			if err != nil {
				return nil, err
			}
			target = &c
		}
	}
	if target != nil {
		return target.st.Query(ctx, pk, opts)
	}
	cells, err := r.all(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Item
	for _, c := range cells {
		items, err := c.st.Query(ctx, pk, opts)
		if r.skip(c, err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	if len(cells) == 1 {
		return out, nil
	}
	sort.SliceStable(out, func(i, j int) bool {
		if opts.Desc {
			return out[i].SK > out[j].SK
		}
		return out[i].SK < out[j].SK
	})
	if opts.Limit > 0 && len(out) > opts.Limit {
		out = out[:opts.Limit]
	}
	return out, nil
}

// opCell is where Transact puts one operation.
type opCell struct {
	c      cell
	p      Placement
	placed bool
}

// Transact applies ops in the one cell they all belong to; ops of several cells fail
// with ErrCrossCell.
func (r *Router) Transact(ctx context.Context, ops []store.Op) error {
	// The cells and placements are kept by value (placed[i] marks a known cell): a
	// transaction runs on every request (quota, usage), and a pointer per operation
	// would be a heap allocation each.
	var small [8]opCell
	per := small[:0]
	if len(ops) > len(small) {
		per = make([]opCell, 0, len(ops))
	}
	per = per[:len(ops)]
	var chosen cell
	haveChosen := false
	for i, op := range ops {
		key, data, hasData := op.Key, []byte(nil), false
		switch op.Kind {
		case store.OpPut:
			key, data, hasData = op.Item.Key, op.Item.Data, true
		case store.OpAdd:
			data, hasData = op.Add.Set, op.Add.Set != nil
		}
		c, p, ok, err := r.place(ctx, key, data, hasData)
		if err != nil {
			return err
		}
		per[i].p = p
		if !ok {
			continue
		}
		per[i].c, per[i].placed = c, true
		if !haveChosen {
			chosen, haveChosen = c, true
		} else if chosen.tenant != c.tenant {
			return fmt.Errorf("%w: %q and %q", ErrCrossCell, chosen.tenant, c.tenant)
		}
	}
	for i, op := range ops {
		if per[i].placed {
			continue
		}
		key := op.Key
		if op.Kind == store.OpPut {
			key = op.Item.Key
		}
		c, found, err := r.locate(ctx, key)
		if err != nil {
			return err
		}
		switch {
		case found:
		case haveChosen:
			c = chosen
		default:
			if c, _, err = r.placeWrite(ctx, key, nil, false); err != nil {
				return err
			}
		}
		if !haveChosen {
			chosen, haveChosen = c, true
		} else if chosen.tenant != c.tenant {
			return fmt.Errorf("%w: %q and %q", ErrCrossCell, chosen.tenant, c.tenant)
		}
		per[i].c, per[i].placed = c, true
	}
	if !haveChosen {
		chosen = cell{st: r.central}
	}
	for i, op := range ops {
		if op.Kind != store.OpPut || per[i].p.kind != ownedBy || !creates(op.Options) {
			continue
		}
		taken, err := r.takenElsewhere(ctx, chosen, op.Item.Key)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("%w: op %d on %s/%s: %w", store.ErrTransactionConflict, i, op.Item.Key.PK, op.Item.Key.SK, store.ErrConditionFailed)
		}
	}
	return chosen.st.Transact(ctx, ops)
}
