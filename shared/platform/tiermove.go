package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/cellmove"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// setMoving freezes (or thaws) the tenant's data: while it moves, every read and write
// of it fails with fault.ErrUnavailable, so nothing changes behind the copy.
func (pl *TenantCells) setMoving(ctx context.Context, id string, moving bool) error {
	t, err := pl.placement(ctx, id)
	if err != nil {
		return err
	}
	t.moving, t.at = moving, time.Now()
	pl.mu.Lock()
	pl.tiers[id] = t
	pl.mu.Unlock()
	return nil
}

// switchToSilo makes the tenant's own cell the one its data is read from.
func (pl *TenantCells) switchToSilo(ctx context.Context, id string) error {
	if _, err := pl.tenants.UpdateTenant(ctx, id, func(t *tenant.Tenant) error {
		t.IsolationTier = tenant.TierSilo
		return nil
	}); err != nil {
		return err
	}
	pl.mu.Lock()
	t := pl.tiers[id]
	t.tier, t.at = tenant.TierSilo, time.Now()
	pl.tiers[id] = t
	pl.mu.Unlock()
	return nil
}

// MoveOption adjusts a tenant's move.
type MoveOption func(*cellmove.Move)

// MoveBatch sets how many items are copied between checkpoints.
func MoveBatch(n int) MoveOption { return func(m *cellmove.Move) { m.Batch = n } }

// MoveCheckpointed is called after every checkpoint of the move; an error stops it
// there (as a crash would).
func MoveCheckpointed(fn func(cellmove.State) error) MoveOption {
	return func(m *cellmove.Move) { m.Checkpointed = fn }
}

// MoveTenant moves a pool tenant's records and objects into a cell of its own and makes
// it a silo tenant, or resumes the move a stop left unfinished, and returns when the move
// is done. The tenant's data is frozen while it moves: its requests answer 503
// service_unavailable. A finished move returns its state again.
func MoveTenant(ctx context.Context, p *Platform, id string, opts ...MoveOption) (cellmove.State, error) {
	cells := p.b.Cells
	if cells == nil {
		return cellmove.State{}, fmt.Errorf("moving tenants between cells: %w", ErrMissingConfig)
	}
	tn, err := p.Tenants.GetTenant(ctx, id)
	if err != nil {
		return cellmove.State{}, err
	}
	prev, err := cellmove.Load(ctx, cells.pool.Store, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if tn.IsolationTier == tenant.TierSilo {
			return cellmove.State{}, fault.New(fault.ErrInvalid, "isolation_tier", "tenant %s is already a silo tenant in a cell of its own", id)
		}
	case err != nil:
		return cellmove.State{}, err
	case prev.Phase == cellmove.PhaseDone:
		return prev, nil
	}
	silo, err := cells.siloCell(ctx, id)
	if errors.Is(err, ErrMissingConfig) {
		return cellmove.State{}, fault.New(fault.ErrInvalid, "isolation_tier", "tenant %s has no cell to move into: %v", id, err)
	}
	if err != nil {
		return cellmove.State{}, err
	}
	if prev.Phase == "" && cells.pool.Vectors != nil {
		if err := movableKnowledgeBases(ctx, p, id); err != nil {
			return cellmove.State{}, err
		}
	}
	if err := cells.setMoving(ctx, id, true); err != nil {
		return cellmove.State{}, err
	}
	m := &cellmove.Move{Tenant: id, From: string(tenant.TierPool), To: string(tenant.TierSilo), Layout: dataLayout,
		Source: cells.pool.Store, Dest: silo.Store, State: cells.pool.Store, Now: p.now, Blobs: moveBlobs(cells.pool.Blobs, silo.Blobs, id),
		Switch: func(ctx context.Context) error { return cells.switchToSilo(ctx, id) },
		Finish: func(ctx context.Context) error {
			// Segments of the tenant cached while it was in the pool go with it.
			if dir := cells.pool.IndexCacheDir; dir != "" {
				if err := os.RemoveAll(filepath.Join(dir, "indexes", id)); err != nil {
					return fmt.Errorf("drop the tenant's cached index segments: %w", err)
				}
			}
			return cells.setMoving(ctx, id, false)
		}}
	for _, o := range opts {
		o(m)
	}
	st, err := m.Run(ctx)
	if err != nil {
		return st, fmt.Errorf("move tenant %s into its own cell (run it again to resume): %w", id, err)
	}
	p.log.Info("tenant moved into its own cell", "tenant", id, "records", st.Records, "objects", st.Blobs, "runs", st.Runs)
	return st, nil
}

// movableKnowledgeBases refuses to start moving a tenant with knowledge bases on the
// s3vectors backend: a move carries records and objects, not the vectors in the pool's
// vector bucket, so their semantic search would come back empty in the tenant's cell.
func movableKnowledgeBases(ctx context.Context, p *Platform, id string) error {
	svc, err := RAG(p)
	if errors.Is(err, ErrMissingConfig) {
		return nil
	}
	if err != nil {
		return err
	}
	kbs, err := svc.ListKnowledgeBases(ctx, id)
	if err != nil {
		return err
	}
	var vec []string
	for _, kb := range kbs {
		if kb.IndexBackend == rag.BackendS3Vectors {
			vec = append(vec, kb.ID)
		}
	}
	if len(vec) > 0 {
		return fault.New(fault.ErrInvalid, "isolation_tier", "tenant %s has knowledge bases on the s3vectors backend (%s), whose vectors a move "+
			"does not carry yet; delete them, or rebuild them on the embedded backend, before moving it", id, strings.Join(vec, ", "))
	}
	return nil
}

// moveBlobs pairs each distinct bucket of the pool with the silo's, with the tenant's
// prefixes.
func moveBlobs(from, to Buckets, id string) []cellmove.Blobs {
	var prefixes []string
	for _, p := range tenantBlobPrefixes {
		prefixes = append(prefixes, p+"/"+id+"/")
	}
	var out []cellmove.Blobs
	seen := map[blob.Store]bool{}
	for _, pair := range [][2]blob.Store{{from.Documents, to.Documents}, {from.Index, to.Index}, {from.Eval, to.Eval}, {from.Customization, to.Customization}} {
		if pair[0] == nil || pair[1] == nil || seen[pair[0]] {
			continue
		}
		seen[pair[0]] = true
		out = append(out, cellmove.Blobs{From: pair[0], To: pair[1], Prefixes: prefixes})
	}
	return out
}

// TierAPI serves POST and GET /admin/tenants/{id}/migration: moving a pool tenant into a
// cell of its own, in the background, resumed by calling it again. It needs tenant cells
// (the local runtime).
func TierAPI(p *Platform, m *Muxes) error {
	if p.b.Cells == nil {
		return fmt.Errorf("tenant migrations need tenant cells: %w", ErrMissingConfig)
	}
	mv := &movers{p: p, running: map[string]bool{}}
	mv.ctx, mv.cancel = context.WithCancel(context.Background())
	m.Admin.HandleFunc("POST /admin/tenants/{id}/migration", mv.start)
	m.Admin.HandleFunc("GET /admin/tenants/{id}/migration", mv.get)
	p.onClose(func(context.Context) error { mv.cancel(); mv.wg.Wait(); return nil })
	return nil
}

// movers runs tenants' moves in the background, one per tenant.
type movers struct {
	p      *Platform
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[string]bool
}

// admit checks a request to move a tenant and returns the tenant and its move's state
// so far; false when it answered the request itself (an error, or a finished move's
// report).
func (mv *movers) admit(w http.ResponseWriter, r *http.Request) (string, cellmove.State, bool) {
	id := r.PathValue("id")
	var req struct {
		IsolationTier tenant.IsolationTier `json:"isolation_tier"`
	}
	if err := httpapi.DecodeJSON(w, r, &req, 1<<10); err != nil {
		httpapi.WriteError(w, err)
		return "", cellmove.State{}, false
	}
	if req.IsolationTier != tenant.TierSilo {
		httpapi.WriteError(w, httpapi.BadRequest("isolation_tier", "isolation_tier must be \"silo\": a pool tenant moves into a cell of its own (moving back to the pool is not supported)"))
		return "", cellmove.State{}, false
	}
	ctx := r.Context()
	tn, err := mv.p.Tenants.GetTenant(ctx, id)
	if err != nil {
		httpapi.WriteError(w, httpapi.FromError(err))
		return "", cellmove.State{}, false
	}
	st, err := cellmove.Load(ctx, mv.p.b.Cells.pool.Store, id)
	switch {
	case err == nil && st.Phase == cellmove.PhaseDone:
		httpapi.WriteJSON(w, http.StatusOK, st)
		return "", cellmove.State{}, false
	case errors.Is(err, store.ErrNotFound) && tn.IsolationTier == tenant.TierSilo:
		httpapi.WriteError(w, httpapi.BadRequest("isolation_tier", "tenant %s is already a silo tenant in a cell of its own", id))
		return "", cellmove.State{}, false
	case errors.Is(err, store.ErrNotFound):
		st = cellmove.State{Tenant: id, From: string(tenant.TierPool), To: string(tenant.TierSilo), Phase: cellmove.PhaseCopyRecords}
	case err != nil:
		httpapi.WriteError(w, err)
		return "", cellmove.State{}, false
	}
	return id, st, true
}

func (mv *movers) start(w http.ResponseWriter, r *http.Request) {
	id, st, ok := mv.admit(w, r)
	if !ok {
		return
	}
	mv.mu.Lock()
	if !mv.running[id] && st.Leased(mv.p.now()) {
		mv.mu.Unlock()
		httpapi.WriteError(w, httpapi.FromError(leased(st)))
		return
	}
	if !mv.running[id] {
		mv.running[id] = true
		mv.wg.Add(1)
		go func() {
			defer mv.wg.Done()
			if _, err := MoveTenant(mv.ctx, mv.p, id); err != nil {
				mv.p.log.Error("tenant move stopped; POST /admin/tenants/{id}/migration resumes it", "tenant", id, "error", err)
			}
			mv.mu.Lock()
			delete(mv.running, id)
			mv.mu.Unlock()
		}()
	}
	mv.mu.Unlock()
	httpapi.WriteJSON(w, http.StatusAccepted, st)
}

// DefaultMoveStep is how long one POST /admin/tenants/{id}/migration moves a tenant on
// Lambda: within API Gateway's 29 seconds.
const DefaultMoveStep = 20 * time.Second

// DefaultPlacementTTL is how long a Lambda function trusts what it read of a tenant's
// tier and move.
const DefaultPlacementTTL = 30 * time.Second

// TierStepsAPI serves POST and GET /admin/tenants/{id}/migration where nothing may run
// after an answer (a Lambda function is frozen once it has answered; API Gateway waits 29
// seconds, Lambda runs 15 minutes at most): each POST runs the move for one step
// (Backends.MoveStep, less when the invocation's deadline is nearer) from its checkpoint
// and answers with its state, 202 while it goes on and 200 once it is done; the caller
// posts again to go on. The other functions learn the tenant is moving when they next
// read its placement (RereadPlacements), so the move switches the tenant to its cell,
// and then deletes the pool's copies, no sooner than that long after it started: a
// record one of them wrote to the pool meanwhile is copied before the pool's copy goes.
// It needs tenant cells.
func TierStepsAPI(p *Platform, m *Muxes) error {
	if p.b.Cells == nil {
		return fmt.Errorf("tenant migrations need tenant cells: %w", ErrMissingConfig)
	}
	mv := &movers{p: p}
	m.Admin.HandleFunc("POST /admin/tenants/{id}/migration", mv.step)
	m.Admin.HandleFunc("GET /admin/tenants/{id}/migration", mv.get)
	return nil
}

// leased is the conflict of a move another run holds.
func leased(st cellmove.State) error {
	return fault.New(cellmove.ErrLeased, "", "tenant %s is being moved by another call (its lease lasts until %s, renewed at every checkpoint, "+
		"and expires then if that call crashed); call again once it has answered: the move goes on from its checkpoint",
		st.Tenant, st.LeaseUntil.UTC().Format(time.RFC3339))
}

// step runs one step of the move. A step that finds another holding the move answers
// 409 concurrent_update at once rather than wait for it (which could outlast API
// Gateway's 29 seconds).
func (mv *movers) step(w http.ResponseWriter, r *http.Request) {
	id, st, ok := mv.admit(w, r)
	if !ok {
		return
	}
	if st.Leased(mv.p.now()) {
		httpapi.WriteError(w, httpapi.FromError(leased(st)))
		return
	}
	ctx := r.Context()
	budget := mv.p.b.MoveStep
	if budget <= 0 {
		budget = DefaultMoveStep
	}
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)-5*time.Second)
	}
	stop := time.Now().Add(budget)
	settle := mv.p.b.Cells.ttl
	if settle > 0 {
		settle += time.Second
	}
	started := false
	st, err := MoveTenant(ctx, mv.p, id, MoveCheckpointed(func(s cellmove.State) error {
		if s.Phase == cellmove.PhaseSwitch && mv.p.now().Before(s.StartedAt.Add(settle)) {
			return cellmove.ErrPaused // some function may not know yet that the tenant moves
		}
		// The first checkpoint is the run's start: every step moves at least one batch.
		if started && !time.Now().Before(stop) {
			return cellmove.ErrPaused
		}
		started = true
		return nil
	}))
	switch {
	case errors.Is(err, cellmove.ErrPaused):
		httpapi.WriteJSON(w, http.StatusAccepted, st)
	case errors.Is(err, cellmove.ErrLeased):
		httpapi.WriteError(w, httpapi.FromError(err))
	case err != nil:
		mv.p.log.Error("tenant move stopped; POST /admin/tenants/{id}/migration resumes it", "tenant", id, "error", err)
		httpapi.WriteError(w, httpapi.FromError(err))
	default:
		httpapi.WriteJSON(w, http.StatusOK, st)
	}
}

func (mv *movers) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := mv.p.Tenants.GetTenant(r.Context(), id); err != nil {
		httpapi.WriteError(w, httpapi.FromError(err))
		return
	}
	st, err := cellmove.Load(r.Context(), mv.p.b.Cells.pool.Store, id)
	if errors.Is(err, store.ErrNotFound) {
		httpapi.WriteError(w, httpapi.FromError(fault.New(fault.ErrNotFound, "", "tenant %s has not been moved; move it into a cell of its own with POST /admin/tenants/%s/migration", id, id)))
		return
	}
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, st)
}

// TenantData counts the tenant's records and objects where they live now: in the pool
// (as the cell layout places them) for a pool tenant, in its own cell for a silo tenant.
func TenantData(ctx context.Context, p *Platform, id string) (records, objects int, err error) {
	cells := p.b.Cells
	if cells == nil {
		return 0, 0, fmt.Errorf("counting a tenant's data: %w", ErrMissingConfig)
	}
	tier, err := cells.tier(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	st, buckets := cells.pool.Store, cells.pool.Blobs
	if tier == tenant.TierSilo {
		c, err := cells.siloCell(ctx, id)
		if err != nil {
			return 0, 0, err
		}
		st, buckets = c.Store, c.Blobs
	}
	sc, ok := st.(store.Scanner)
	if !ok {
		return 0, 0, fmt.Errorf("the tenant's store cannot list its partitions")
	}
	pks, err := sc.Partitions(ctx, "")
	if err != nil {
		return 0, 0, err
	}
	for _, pk := range pks {
		items, err := dataLayout.TenantItems(ctx, st, id, pk)
		if err != nil {
			return 0, 0, err
		}
		records += len(items)
	}
	for _, b := range moveBlobs(buckets, buckets, id) {
		for _, prefix := range b.Prefixes {
			objs, err := b.From.List(ctx, prefix)
			if err != nil {
				return 0, 0, err
			}
			objects += len(objs)
		}
	}
	return records, objects, nil
}
