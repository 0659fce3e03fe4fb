package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/cellblob"
	"github.com/plinth-ai/plinth/shared/cellmove"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/cellstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Where records live. The platform's own records stay in the pool cell (Backends.Data)
// whatever the tenants' tiers: the tenant directory, API keys and IAM mappings (every
// request is authenticated against them before its tenant is known), the model registry
// and aliases, the guardrail baseline, the tool catalog, fine-tuned models' index, the
// audit trail (the platform's evidence, read across tenants) and the workflow executor's
// indexes of executions (IDs only). A tenant's own data lives in its cell:
// the pool cell for a pool tenant, its own for a silo tenant. The layout below names
// every partition; a new one is the platform's until a rule says otherwise.
var dataLayout = mustLayout(
	// The platform's.
	central("TENANTS", "IAM", "TENANT#", "PLATFORM#KEYS", "APIKEY#", "KEYID#",
		"REGISTRY#MODEL", "REGISTRY#ALIAS", "REGISTRY#ALIASLOG#", "GUARDRAIL-BASELINE",
		"TOOLHUB#SERVERS", "FT#MODEL", "AUDIT#D#", "AUDIT#T#", "CELLMOVE#",
		"flowexecs", "flowmachine#", "flowrunning"),
	// Partitions named by their tenant: quotas and cached responses, usage, knowledge
	// bases and documents, agent runs and stored responses, ground-truth datasets,
	// feedback, suites' run indexes, fine-tuning files and jobs' index, tool grants.
	inPK("QUOTA#", "CACHE#", "SEMCACHE#", "USAGE#", "USAGEAGG#", "USAGEKEY#", "RAGKB#", "RAGDOC#",
		"AGENTRUN#", "RESPONSE#", "GTDATASET#", "EVAL#FEEDBACK#", "EVAL#SUITE#", "FT#T#", "TOOLHUB#GRANTS#"),
	[]cellstore.Rule{
		// Evaluation suites share one partition, each sort key naming its tenant.
		{PK: "EVAL#SUITES", Place: cellstore.TenantInSK("SUITE#")},
		// Records keyed by a generated ID: their head record names the tenant, the rest
		// of the partition follows it.
		{PK: "EVAL#RUN#", Place: cellstore.OwnedBy("tenant")},
		{PK: "FT#JOB#", Place: cellstore.OwnedBy("job.organization_id")},
		{PK: "FT#LOCALJOB", Place: cellstore.OwnedBy("spec.Tenant")},
		{PK: "REVIEWQ#", Place: cellstore.OwnedBy("tenant").ListedIn("REVIEWQ")},
		{PK: "REVIEWQ", Place: cellstore.OwnedBy("tenant")},
		// Definitions a tenant owns or the platform shares (no tenant): guardrail
		// policies, prompts and agents, and their listings.
		{PK: "GUARDRAIL#", Place: cellstore.OwnedOrShared("tenant", "policy.tenant")},
		{PK: "GUARDRAILS", Place: cellstore.OwnedOrShared("tenant")},
		{PK: "REGISTRY#PROMPT#", Place: cellstore.OwnedOrShared("tenant")},
		{PK: "REGISTRY#PROMPTS", Place: cellstore.OwnedOrShared("tenant")},
		{PK: "AGENT#DEF#", Place: cellstore.OwnedOrShared("tenant")},
		{PK: "AGENT#INDEX", Place: cellstore.OwnedOrShared("tenant")},
		// A workflow execution's input, outputs and history carry its tenant's data; the
		// indexes of executions hold only IDs.
		{PK: "flowexec#", Place: cellstore.OwnedBy("owner")},
	},
)

// tenantBlobPrefixes are the blob key prefixes followed by the owning tenant:
// documents and customisation (tenants/), ingestion intermediates (work/), index
// segments (indexes/), ground-truth datasets (datasets/), evaluation snapshots and
// reports (eval/).
var tenantBlobPrefixes = []string{"tenants", "work", "indexes", "datasets", "eval"}

func central(pks ...string) []cellstore.Rule {
	out := make([]cellstore.Rule, len(pks))
	for i, pk := range pks {
		out[i] = cellstore.Rule{PK: pk, Place: cellstore.Central()}
	}
	return out
}

func inPK(pks ...string) []cellstore.Rule {
	out := make([]cellstore.Rule, len(pks))
	for i, pk := range pks {
		out[i] = cellstore.Rule{PK: pk, Place: cellstore.TenantInPK()}
	}
	return out
}

func mustLayout(groups ...[]cellstore.Rule) *cellstore.Layout {
	l, err := cellstore.NewLayout(cellstore.Central(), slices.Concat(groups...)...)
	if err != nil {
		panic(err)
	}
	return l
}

// SiloCells opens the cells of silo tenants: each its own store and blob store (locally
// a directory of the data directory named for the tenant, with its own store file, blob
// root and encryption key).
type SiloCells interface {
	// Cell opens the tenant's cell, creating it on first use. It is called once per
	// tenant; the platform keeps the cell open until Close.
	Cell(ctx context.Context, tenantID string) (Cell, error)
}

// TenantCells knows each tenant's cell: the pool cell for a pool tenant or one the
// tenant directory does not have, its own (opened through SiloCells) for a silo tenant.
// Its Routed cell is the one mechanism that keeps tenants' data apart: a runtime passes
// it to the platform as Backends.Data, so every capability built over it writes a silo
// tenant's records and objects to the tenant's cell without knowing tiers.
type TenantCells struct {
	pool    Cell
	silos   SiloCells
	tenants *tenant.Service

	log *slog.Logger

	// ttl is how long a tenant's placement is trusted before it is read again (0:
	// forever, for a runtime where every move runs in this process).
	ttl time.Duration

	mu      sync.RWMutex
	warned  map[string]time.Time
	tiers   map[string]placed
	cells   map[string]*Cell
	opening map[string]*sync.Mutex
	scanned bool
}

// NewTenantCells returns the cells of tenants whose directory is in the pool cell's store.
func NewTenantCells(pool Cell, silos SiloCells, log *slog.Logger) *TenantCells {
	if pool.Store == nil || silos == nil {
		panic("platform.NewTenantCells: nil pool store or silo cells")
	}
	if log == nil {
		log = slog.Default()
	}
	return &TenantCells{pool: pool, silos: silos, tenants: tenant.NewService(pool.Store), log: log, tiers: map[string]placed{},
		cells: map[string]*Cell{}, opening: map[string]*sync.Mutex{}, warned: map[string]time.Time{}}
}

// RereadPlacements makes the cells read a tenant's tier and move state again once what
// they know is older than ttl: where several processes serve the same tenants (Lambda
// functions), a move one of them runs is seen by the others within ttl. Call it before
// the cells are used.
func (pl *TenantCells) RereadPlacements(ttl time.Duration) { pl.ttl = ttl }

// placed is what the cells know of a tenant: its tier, whether it is moving, and when
// that was read.
type placed struct {
	tier   tenant.IsolationTier
	moving bool
	at     time.Time
}

// placement returns the tenant's tier ("" for a tenant the directory does not have,
// which is not remembered: it may be created later) and whether it is moving between
// cells.
func (pl *TenantCells) placement(ctx context.Context, id string) (placed, error) {
	pl.mu.RLock()
	t, ok := pl.tiers[id]
	pl.mu.RUnlock()
	if ok && (pl.ttl <= 0 || time.Since(t.at) < pl.ttl) {
		return t, nil
	}
	tn, err := pl.tenants.GetTenant(ctx, id)
	if errors.Is(err, tenant.ErrNotFound) {
		return placed{}, nil
	}
	if err != nil {
		return placed{}, err
	}
	t = placed{tier: tn.IsolationTier, at: time.Now()}
	switch mv, err := cellmove.Load(ctx, pl.pool.Store, id); {
	case err == nil:
		t.moving = mv.Phase != cellmove.PhaseDone
	case !errors.Is(err, store.ErrNotFound):
		return placed{}, err
	}
	pl.mu.Lock()
	pl.tiers[id] = t
	pl.mu.Unlock()
	return t, nil
}

// tier returns the tenant's isolation tier.
func (pl *TenantCells) tier(ctx context.Context, id string) (tenant.IsolationTier, error) {
	t, err := pl.placement(ctx, id)
	return t.tier, err
}

// cell returns the silo tenant's cell, or nil for a tenant whose data is in the pool.
func (pl *TenantCells) cell(ctx context.Context, id string) (*Cell, error) {
	t, err := pl.placement(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.moving {
		return nil, fault.New(fault.ErrUnavailable, "", "tenant %s is moving to a cell of its own; its data is back when the move ends (GET /admin/tenants/%s/migration)", id, id)
	}
	if t.tier != tenant.TierSilo {
		return nil, nil
	}
	return pl.siloCell(ctx, id)
}

// siloCell opens the tenant's own cell (once), whatever its tier: a tenant moving into
// its cell needs it before it is its cell.
func (pl *TenantCells) siloCell(ctx context.Context, id string) (*Cell, error) {
	pl.mu.RLock()
	c, ok := pl.cells[id]
	pl.mu.RUnlock()
	if ok {
		return c, nil
	}
	pl.mu.Lock()
	lock, ok := pl.opening[id]
	if !ok {
		lock = &sync.Mutex{}
		pl.opening[id] = lock
	}
	pl.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	pl.mu.RLock()
	c, ok = pl.cells[id]
	pl.mu.RUnlock()
	if ok {
		return c, nil
	}
	opened, err := pl.silos.Cell(context.WithoutCancel(ctx), id)
	if err != nil {
		return nil, fmt.Errorf("open the cell of silo tenant %s: %w", id, err)
	}
	pl.mu.Lock()
	pl.cells[id] = &opened
	pl.mu.Unlock()
	return &opened, nil
}

// siloTenants lists the silo tenants: every one in the directory (read once), and
// those found silo since.
func (pl *TenantCells) siloTenants(ctx context.Context) ([]string, error) {
	pl.mu.Lock()
	scanned := pl.scanned
	pl.mu.Unlock()
	if !scanned {
		all, err := pl.tenants.ListTenants(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range all {
			if _, err := pl.placement(ctx, t.ID); err != nil {
				return nil, err
			}
		}
		pl.mu.Lock()
		pl.scanned = true
		pl.mu.Unlock()
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	var out []string
	for id, t := range pl.tiers {
		if t.tier == tenant.TierSilo {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// unavailable logs a silo cell left out of a read across tenants (its key is disabled
// or deleted), at most once a minute per tenant.
func (pl *TenantCells) unavailable(id string, err error) {
	now := time.Now()
	pl.mu.Lock()
	last, ok := pl.warned[id]
	if !ok || now.Sub(last) >= time.Minute {
		pl.warned[id] = now
	}
	pl.mu.Unlock()
	if !ok || now.Sub(last) >= time.Minute {
		pl.log.Warn("a silo tenant's cell is unavailable and left out of reads across tenants", "tenant", id, "error", err)
	}
}

// documentsBucket names the documents bucket of a silo tenant's own cell; "" for a pool
// tenant (the pool's), or when it cannot be told now.
func (pl *TenantCells) documentsBucket(ctx context.Context, id string) string {
	t, err := pl.tier(ctx, id)
	if err != nil || t != tenant.TierSilo {
		return ""
	}
	c, err := pl.siloCell(ctx, id)
	if err != nil || c == nil {
		return ""
	}
	return c.Blobs.DocumentsName
}

// IsSilo reports whether the tenant's data is in a cell of its own, for callers without
// a context (the index cache); a tenant whose tier cannot be read counts as a silo, whose
// data must not spill.
func (pl *TenantCells) IsSilo(id string) bool {
	t, err := pl.tier(context.Background(), id)
	return err != nil || t == tenant.TierSilo
}

// Store implements cellstore.Cells.
func (pl *TenantCells) Store(ctx context.Context, id string) (store.Store, error) {
	c, err := pl.cell(ctx, id)
	if err != nil || c == nil {
		return nil, err
	}
	return c.Store, nil
}

// Silos implements cellstore.Cells and cellblob.Cells.
func (pl *TenantCells) Silos(ctx context.Context) ([]string, error) { return pl.siloTenants(ctx) }

// bucketCells are the silo cells' blob stores of one bucket.
type bucketCells struct {
	pl     *TenantCells
	name   string
	bucket func(Buckets) blob.Store
}

func (b bucketCells) Blobs(ctx context.Context, id string) (blob.Store, error) {
	c, err := b.pl.cell(ctx, id)
	if err != nil || c == nil {
		return nil, err
	}
	st := b.bucket(c.Blobs)
	if st == nil {
		// A deployment that gave the tenant no such bucket: refused in the API's error
		// shape, never kept in the pool's.
		return nil, fault.New(fault.ErrUnavailable, "", "tenant %s's cell has no %s bucket of its own; deploy it with the platform's "+
			"tenants (tier silo) to use this capability", id, b.name)
	}
	return st, nil
}

func (b bucketCells) Silos(ctx context.Context) ([]string, error) { return b.pl.siloTenants(ctx) }

// Routed is the cell capabilities are built over: the pool cell's stores behind routers
// that send each silo tenant's records and objects to its own cell.
func (pl *TenantCells) Routed() Cell {
	c := pl.pool
	c.Store = cellstore.New(pl.pool.Store, pl, dataLayout, cellstore.WithUnavailable(pl.unavailable))
	route := func(pool blob.Store, name string, bucket func(Buckets) blob.Store) blob.Store {
		if pool == nil {
			return nil
		}
		return cellblob.New(pool, bucketCells{pl: pl, name: name, bucket: bucket}, tenantBlobPrefixes...).WithUnavailable(pl.unavailable)
	}
	c.Blobs.Documents = route(pl.pool.Blobs.Documents, "documents", func(b Buckets) blob.Store { return b.Documents })
	c.Blobs.Index = route(pl.pool.Blobs.Index, "index", func(b Buckets) blob.Store { return b.Index })
	c.Blobs.Eval = route(pl.pool.Blobs.Eval, "evaluation", func(b Buckets) blob.Store { return b.Eval })
	c.Blobs.Customization = route(pl.pool.Blobs.Customization, "fine-tuning", func(b Buckets) blob.Store { return b.Customization })
	if pl.pool.Vectors != nil {
		c.Vectors = routedVectors{pl: pl, pool: pl.pool.Vectors}
	}
	return c
}

// routedVectors sends each knowledge base's dense vectors to its tenant's cell: a silo
// tenant's to its own vector store (in AWS its own S3 Vectors bucket, encrypted with its
// own key), a pool tenant's to the pool's. A silo tenant whose cell has no vector store is
// refused, never written to the pool's.
type routedVectors struct {
	pl   *TenantCells
	pool index.VectorStore
}

func (r routedVectors) of(ctx context.Context, ns index.Namespace) (index.VectorStore, error) {
	c, err := r.pl.cell(ctx, ns.Tenant)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return r.pool, nil
	}
	if c.Vectors == nil {
		return nil, fault.New(fault.ErrUnavailable, "", "tenant %s has no vector store of its own for knowledge bases on the s3vectors backend; "+
			"use the embedded backend, or deploy its vector bucket", ns.Tenant)
	}
	return c.Vectors, nil
}

func (r routedVectors) PutVectors(ctx context.Context, ns index.Namespace, vecs []index.Vector) error {
	vs, err := r.of(ctx, ns)
	if err != nil {
		return err
	}
	return vs.PutVectors(ctx, ns, vecs)
}

func (r routedVectors) DeleteVectors(ctx context.Context, ns index.Namespace, keys []string) error {
	vs, err := r.of(ctx, ns)
	if err != nil {
		return err
	}
	return vs.DeleteVectors(ctx, ns, keys)
}

func (r routedVectors) QueryVectors(ctx context.Context, ns index.Namespace, vec []float32, topK int, filter *index.Filter) ([]index.VectorMatch, error) {
	vs, err := r.of(ctx, ns)
	if err != nil {
		return nil, err
	}
	return vs.QueryVectors(ctx, ns, vec, topK, filter)
}

func (r routedVectors) DropNamespace(ctx context.Context, ns index.Namespace) error {
	vs, err := r.of(ctx, ns)
	if err != nil {
		return err
	}
	return vs.DropNamespace(ctx, ns)
}

// executionOwner is the tenant whose data a workflow execution carries: the "tenant" its
// input names (evaluation, customisation and agent runs), or the tenant of the object an
// ingestion event names.
func executionOwner(_ string, input json.RawMessage) string {
	var in struct {
		Tenant string `json:"tenant"`
		Detail struct {
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"detail"`
	}
	if json.Unmarshal(input, &in) != nil {
		return ""
	}
	if in.Tenant != "" {
		return in.Tenant
	}
	first, rest, ok := strings.Cut(in.Detail.Object.Key, "/")
	if !ok || !slices.Contains(tenantBlobPrefixes, first) {
		return ""
	}
	t, _, _ := strings.Cut(rest, "/")
	return t
}
