package cellstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/cellstore"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/store/storetest"
)

// silos are in-memory cells of the tenants they name; other tenants are the pool's.
type silos map[string]*memstore.Store

func (s silos) Store(_ context.Context, tenant string) (store.Store, error) {
	if st, ok := s[tenant]; ok {
		return st, nil
	}
	return nil, nil
}

func (s silos) Silos(context.Context) ([]string, error) {
	var out []string
	for t := range s {
		out = append(out, t)
	}
	return out, nil
}

func layout(t *testing.T) *cellstore.Layout {
	t.Helper()
	l, err := cellstore.NewLayout(cellstore.Central(),
		cellstore.Rule{PK: "TENANTS", Place: cellstore.Central()},
		cellstore.Rule{PK: "QUOTA#", Place: cellstore.TenantInPK()},
		cellstore.Rule{PK: "EVAL#SUITES", Place: cellstore.TenantInSK("SUITE#")},
		cellstore.Rule{PK: "EVAL#SUITE#", Place: cellstore.TenantInPK()},
		cellstore.Rule{PK: "EVAL#RUN#", Place: cellstore.OwnedBy("tenant")},
		cellstore.Rule{PK: "FT#JOB#", Place: cellstore.OwnedBy("job.organization_id")},
		cellstore.Rule{PK: "AGENT#INDEX", Place: cellstore.OwnedBy("tenant")},
	)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type fixture struct {
	r       *cellstore.Router
	central *memstore.Store
	silo    *memstore.Store // tenant "acme"'s cell
}

func newFixture(t *testing.T) fixture {
	central, silo := memstore.New(), memstore.New()
	return fixture{r: cellstore.New(central, silos{"acme": silo}, layout(t)), central: central, silo: silo}
}

func k(pk, sk string) store.Key { return store.Key{PK: pk, SK: sk} }

func put(t *testing.T, s store.Store, key store.Key, data string) {
	t.Helper()
	if _, err := s.Put(context.Background(), store.Item{Key: key, Data: []byte(data)}, store.WriteOptions{}); err != nil {
		t.Fatalf("put %v: %v", key, err)
	}
}

func has(s store.Store, key store.Key) bool {
	_, err := s.Get(context.Background(), key)
	return err == nil
}

// Without silos the router is its central store: the store contract holds.
func TestContractWithoutSilos(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return cellstore.New(memstore.New(), silos{}, layout(t))
	})
}

// The contract also holds for partitions that all live in a silo's cell, reached
// through reads of every cell; the central store stays empty.
func TestContractInASilo(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		everything, err := cellstore.NewLayout(cellstore.OwnedBy())
		if err != nil {
			t.Fatal(err)
		}
		central := memstore.New()
		t.Cleanup(func() {
			if items, _ := central.Query(context.Background(), "part", store.QueryOptions{}); len(items) > 0 {
				t.Errorf("the central store holds %d of the silo's items", len(items))
			}
		})
		return ownerStore{cellstore.New(central, silos{"acme": memstore.New()}, everything), "acme"}
	}, storetest.WithConcurrency(4))
}

// ownerStore names the owner of every write, as a capability writing records keyed by
// generated IDs does.
type ownerStore struct {
	*cellstore.Router
	tenant string
}

func (o ownerStore) Put(ctx context.Context, it store.Item, opts store.WriteOptions) (int64, error) {
	return o.Router.Put(store.WithOwner(ctx, o.tenant), it, opts)
}
func (o ownerStore) Add(ctx context.Context, key store.Key, d []store.Delta, opts store.AddOptions) (store.Item, error) {
	return o.Router.Add(store.WithOwner(ctx, o.tenant), key, d, opts)
}
func (o ownerStore) Transact(ctx context.Context, ops []store.Op) error {
	return o.Router.Transact(store.WithOwner(ctx, o.tenant), ops)
}

func TestTenantInPK(t *testing.T) {
	f := newFixture(t)
	put(t, f.r, k("QUOTA#acme", "D#1"), `{}`)
	put(t, f.r, k("QUOTA#globex", "D#1"), `{}`)
	put(t, f.r, k("TENANTS", "acme"), `{"id":"acme"}`)
	if !has(f.silo, k("QUOTA#acme", "D#1")) || has(f.central, k("QUOTA#acme", "D#1")) {
		t.Error("a silo tenant's record is not in its cell alone")
	}
	if !has(f.central, k("QUOTA#globex", "D#1")) || has(f.silo, k("QUOTA#globex", "D#1")) {
		t.Error("a pool tenant's record is not in the central store")
	}
	if !has(f.central, k("TENANTS", "acme")) || has(f.silo, k("TENANTS", "acme")) {
		t.Error("the tenant directory is not central")
	}
	if items, err := f.r.Query(context.Background(), "QUOTA#acme", store.QueryOptions{}); err != nil || len(items) != 1 {
		t.Errorf("query a silo partition: %v %v", items, err)
	}
}

func TestTenantInSKMergesSharedPartitions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tn := range []string{"acme", "globex", "initech"} {
		for i := range 2 {
			put(t, f.r, k("EVAL#SUITES", fmt.Sprintf("SUITE#%s#s%d", tn, i)), `{}`)
		}
	}
	if !has(f.silo, k("EVAL#SUITES", "SUITE#acme#s0")) || has(f.central, k("EVAL#SUITES", "SUITE#acme#s0")) {
		t.Fatal("a silo tenant's suite is not in its cell alone")
	}
	all, err := f.r.Query(ctx, "EVAL#SUITES", store.QueryOptions{Prefix: "SUITE#"})
	if err != nil || len(all) != 6 {
		t.Fatalf("every tenant's suites: %d %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].SK >= all[i].SK {
			t.Fatalf("merged out of order: %s then %s", all[i-1].SK, all[i].SK)
		}
	}
	desc, err := f.r.Query(ctx, "EVAL#SUITES", store.QueryOptions{Desc: true, Limit: 3})
	if err != nil || len(desc) != 3 || desc[0].SK != "SUITE#initech#s1" || desc[2].SK != "SUITE#globex#s1" {
		t.Fatalf("descending, limited: %v %v", sks(desc), err)
	}
	page, err := f.r.Query(ctx, "EVAL#SUITES", store.QueryOptions{After: "SUITE#acme#s1", Limit: 2})
	if err != nil || len(page) != 2 || page[0].SK != "SUITE#globex#s0" {
		t.Fatalf("a page after acme's: %v %v", sks(page), err)
	}
	own, err := f.r.Query(ctx, "EVAL#SUITES", store.QueryOptions{Prefix: "SUITE#acme#"})
	if err != nil || len(own) != 2 {
		t.Fatalf("acme's suites: %v %v", sks(own), err)
	}
}

func sks(items []store.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.SK)
	}
	return out
}

func TestOwnedByFollowsDataThenPartition(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	put(t, f.r, k("EVAL#RUN#r1", "META"), `{"id":"r1","tenant":"acme"}`)
	put(t, f.r, k("EVAL#RUN#r1", "ITEM#00000001"), `{"score":1}`) // names no tenant: follows its partition
	put(t, f.r, k("EVAL#RUN#r2", "META"), `{"id":"r2","tenant":"globex"}`)
	put(t, f.r, k("EVAL#RUN#r2", "ITEM#00000001"), `{"score":0}`)
	put(t, f.r, k("FT#JOB#j1", "META"), `{"job":{"organization_id":"acme"}}`)
	for _, key := range []store.Key{k("EVAL#RUN#r1", "META"), k("EVAL#RUN#r1", "ITEM#00000001"), k("FT#JOB#j1", "META")} {
		if !has(f.silo, key) || has(f.central, key) {
			t.Errorf("%v is not in acme's cell alone", key)
		}
	}
	if !has(f.central, k("EVAL#RUN#r2", "ITEM#00000001")) || has(f.silo, k("EVAL#RUN#r2", "ITEM#00000001")) {
		t.Error("a pool run's item left the central store")
	}
	// Reads find items wherever they live.
	if it, err := f.r.Get(ctx, k("EVAL#RUN#r1", "META")); err != nil || string(it.Data) != `{"id":"r1","tenant":"acme"}` {
		t.Errorf("get a silo run: %s %v", it.Data, err)
	}
	if items, err := f.r.Query(ctx, "EVAL#RUN#r1", store.QueryOptions{Prefix: "ITEM#"}); err != nil || len(items) != 1 {
		t.Errorf("query a silo run's items: %v %v", sks(items), err)
	}
	if _, err := f.r.Get(ctx, k("EVAL#RUN#nope", "META")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a missing run: %v", err)
	}
	// A record of a new partition whose data names nobody goes where the context says,
	// and nowhere without it.
	if _, err := f.r.Put(ctx, store.Item{Key: k("EVAL#RUN#r3", "ITEM#1"), Data: []byte(`{}`)}, store.WriteOptions{}); !errors.Is(err, cellstore.ErrNoOwner) {
		t.Errorf("an ownerless write: %v, want ErrNoOwner", err)
	}
	if has(f.central, k("EVAL#RUN#r3", "ITEM#1")) || has(f.silo, k("EVAL#RUN#r3", "ITEM#1")) {
		t.Error("an ownerless write was stored")
	}
	if _, err := f.r.Put(store.WithOwner(ctx, "acme"), store.Item{Key: k("EVAL#RUN#r3", "ITEM#1"), Data: []byte(`{}`)}, store.WriteOptions{}); err != nil || !has(f.silo, k("EVAL#RUN#r3", "ITEM#1")) {
		t.Errorf("a write whose context names acme: %v", err)
	}
	// Deletes find the item.
	if err := f.r.Delete(ctx, k("EVAL#RUN#r1", "ITEM#00000001"), store.WriteOptions{Cond: store.IfExists}); err != nil || has(f.silo, k("EVAL#RUN#r1", "ITEM#00000001")) {
		t.Errorf("delete a silo item: %v", err)
	}
	if err := f.r.Delete(ctx, k("EVAL#RUN#nope", "META"), store.WriteOptions{Cond: store.IfExists}); !errors.Is(err, store.ErrConditionFailed) {
		t.Errorf("delete a missing item if it exists: %v", err)
	}
	// Platform-owned listing items ("tenant": "") are central.
	put(t, f.r, k("AGENT#INDEX", "shared"), `{"tenant":""}`)
	put(t, f.r, k("AGENT#INDEX", "mine"), `{"tenant":"acme"}`)
	if !has(f.central, k("AGENT#INDEX", "shared")) || !has(f.silo, k("AGENT#INDEX", "mine")) {
		t.Error("listing items are not with their owners")
	}
	if items, err := f.r.Query(ctx, "AGENT#INDEX", store.QueryOptions{}); err != nil || len(items) != 2 || items[0].SK != "mine" {
		t.Errorf("the listing: %v %v", sks(items), err)
	}
}

// IDs stay unique across cells: creating an ID another cell holds fails as it did in
// one table.
func TestOwnedByIDsAreUniqueAcrossCells(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	put(t, f.r, k("AGENT#INDEX", "bot"), `{"tenant":"globex"}`)
	_, err := f.r.Put(ctx, store.Item{Key: k("AGENT#INDEX", "bot"), Data: []byte(`{"tenant":"acme"}`)}, store.WriteOptions{Cond: store.IfNotExists})
	if !errors.Is(err, store.ErrConditionFailed) || has(f.silo, k("AGENT#INDEX", "bot")) {
		t.Errorf("acme creating globex's ID: %v", err)
	}
	err = f.r.Transact(ctx, []store.Op{{Kind: store.OpPut, Item: store.Item{Key: k("AGENT#INDEX", "bot"), Data: []byte(`{"tenant":"acme"}`)}, Options: store.WriteOptions{Cond: store.IfNotExists}}})
	if !errors.Is(err, store.ErrTransactionConflict) || !errors.Is(err, store.ErrConditionFailed) {
		t.Errorf("in a transaction: %v", err)
	}
}

func TestTransactions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	put(t, f.r, k("EVAL#RUN#r1", "META"), `{"tenant":"acme"}`)
	// One cell: the run's items (located) with the tenant's index entry.
	err := f.r.Transact(ctx, []store.Op{
		{Kind: store.OpPut, Item: store.Item{Key: k("EVAL#RUN#r1", "ITEM#2"), Data: []byte(`{}`)}},
		{Kind: store.OpPut, Item: store.Item{Key: k("EVAL#SUITE#acme#s#RUNS", "t#r1"), Data: []byte(`{}`)}},
		{Kind: store.OpAdd, Key: k("QUOTA#acme", "D#1"), Deltas: []store.Delta{{Name: "n", By: 1}}},
	})
	if err != nil || !has(f.silo, k("EVAL#RUN#r1", "ITEM#2")) || !has(f.silo, k("QUOTA#acme", "D#1")) {
		t.Fatalf("a transaction in acme's cell: %v", err)
	}
	// Two cells cannot commit together: nothing is written.
	err = f.r.Transact(ctx, []store.Op{
		{Kind: store.OpAdd, Key: k("QUOTA#acme", "D#2"), Deltas: []store.Delta{{Name: "n", By: 1}}},
		{Kind: store.OpAdd, Key: k("QUOTA#globex", "D#2"), Deltas: []store.Delta{{Name: "n", By: 1}}},
	})
	if !errors.Is(err, cellstore.ErrCrossCell) {
		t.Fatalf("a transaction across cells: %v", err)
	}
	if has(f.silo, k("QUOTA#acme", "D#2")) || has(f.central, k("QUOTA#globex", "D#2")) {
		t.Error("a refused transaction wrote")
	}
}

func TestLayoutRefusesDuplicates(t *testing.T) {
	if _, err := cellstore.NewLayout(cellstore.Central(), cellstore.Rule{PK: "A#", Place: cellstore.Central()}, cellstore.Rule{PK: "A#", Place: cellstore.TenantInPK()}); err == nil {
		t.Error("a partition placed twice")
	}
	if _, err := cellstore.NewLayout(cellstore.Central(), cellstore.Rule{PK: "A", Place: cellstore.TenantInSK("")}); err == nil {
		t.Error("TenantInSK without a prefix")
	}
}

// broken is a silo cell whose every operation fails as a cell with a disabled key does.
type broken struct{ store.Store }

var errUnavailable = fault.New(fault.ErrUnavailable, "", "the key is disabled")

func (broken) Get(context.Context, store.Key) (store.Item, error) {
	return store.Item{}, errUnavailable
}
func (broken) Query(context.Context, string, store.QueryOptions) ([]store.Item, error) {
	return nil, errUnavailable
}

// Reads across cells leave an unavailable silo out (and say so); its own partitions fail.
func TestUnavailableCellsAreLeftOutOfReadsAcrossCells(t *testing.T) {
	ctx := context.Background()
	central := memstore.New()
	var skipped []string
	r := cellstore.New(central, brokenCells{"acme": broken{memstore.New()}}, layout(t),
		cellstore.WithUnavailable(func(tenant string, err error) { skipped = append(skipped, tenant) }))
	put(t, r, k("AGENT#INDEX", "shared"), `{"tenant":""}`)
	items, err := r.Query(ctx, "AGENT#INDEX", store.QueryOptions{})
	if err != nil || len(items) != 1 {
		t.Fatalf("a listing across cells: %v %v", sks(items), err)
	}
	if _, err := r.Get(ctx, k("EVAL#RUN#x", "META")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a get across cells: %v", err)
	}
	if len(skipped) == 0 || skipped[0] != "acme" {
		t.Errorf("skipped %v", skipped)
	}
	if _, err := r.Query(ctx, "QUOTA#acme", store.QueryOptions{}); !errors.Is(err, fault.ErrUnavailable) {
		t.Errorf("acme's own partition: %v", err)
	}
}

type brokenCells map[string]store.Store

func (b brokenCells) Store(_ context.Context, t string) (store.Store, error) { return b[t], nil }
func (b brokenCells) Silos(context.Context) ([]string, error) {
	var out []string
	for t := range b {
		out = append(out, t)
	}
	return out, nil
}

// BenchmarkTransactPool: a pool tenant's quota-sized transaction through the router,
// the work every gateway request pays twice (reserve, reconcile).
func BenchmarkTransactPool(b *testing.B) {
	central, silo := memstore.New(), memstore.New()
	l, err := cellstore.NewLayout(cellstore.Central(), cellstore.Rule{PK: "QUOTA#", Place: cellstore.TenantInPK()})
	if err != nil {
		b.Fatal(err)
	}
	r := cellstore.New(central, silos{"acme": silo}, l)
	ctx := context.Background()
	ops := make([]store.Op, 6)
	for i := range ops {
		ops[i] = store.Op{Kind: store.OpAdd, Key: store.Key{PK: "QUOTA#pooled", SK: fmt.Sprintf("C#%d", i)},
			Add: store.AddOptions{}, Deltas: []store.Delta{{Name: "n", By: 1}}}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Transact(ctx, ops); err != nil {
			b.Fatal(err)
		}
	}
}
