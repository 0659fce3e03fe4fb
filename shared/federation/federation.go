// Package federation lets a line of business run its own Plinth (decentralised mode)
// with the central platform's model registry and guardrail baseline.
//
// The centre exports, read-only, what every Plinth of the organisation must share:
//
//	GET /admin/sync/registry   the approved and deprecated platform-wide models (API keys removed)
//	GET /admin/sync/baseline   the guardrail baseline: its reference and the policy it names
//
// A decentralised Plinth configured with the centre's URL and a read-only credential (a
// platform auditor key, or for a centre on AWS an IAM role the centre maps to a platform
// auditor, whose requests are signed with SigV4) pulls both at start-up and then on a schedule (Syncer) and applies
// them (Apply): models it does not have are created and approved, tagged
// plinth:source=central; changed ones are updated; ones the centre no longer exports are
// retired; the baseline policy is stored under the centre's policy id and made the local
// floor. Synchronised models, the baseline and its policy are read-only locally
// (ReadOnly): they change at the centre and arrive with the next pull. Models of the
// line of business's own (and the built-ins both sides seed) are left alone.
package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store"
)

// SourceTag marks a model synchronised from the centre (value SourceCentral).
const (
	SourceTag     = "plinth:source"
	SourceCentral = "central"
)

// Syncer is the reviewer name synchronised changes are recorded under.
const Syncer = "federation"

// Registry is the central registry export.
type Registry struct {
	Object      string           `json:"object"` // "federation.registry"
	GeneratedAt time.Time        `json:"generated_at"`
	Models      []registry.Model `json:"data"`
}

// Baseline is the central guardrail baseline export.
type Baseline struct {
	Object      string    `json:"object"` // "federation.baseline"
	GeneratedAt time.Time `json:"generated_at"`
	// PolicyRef is the centre's baseline ("id:version"); empty when it has none.
	PolicyRef string `json:"policy_ref"`
	// Policy is the platform-shared policy PolicyRef names.
	Policy *guardrail.Policy `json:"policy,omitempty"`
}

// Centre serves the exports from a platform's registry and guardrails.
type Centre struct {
	Registry   *registry.Service
	Guardrails *guardrail.Service
	Now        func() time.Time
}

// Routes registers the export routes on the admin mux; who may call them (platform
// admins and auditors) is decided in front of it.
func (c *Centre) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/sync/registry", c.registry)
	mux.HandleFunc("GET /admin/sync/baseline", c.baseline)
}

func (c *Centre) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// ExportRegistry is the registry export: platform-wide models (no tenant's own) that
// may be invoked, without deployment API keys.
func (c *Centre) ExportRegistry(ctx context.Context) (Registry, error) {
	models, err := c.Registry.List(ctx)
	if err != nil {
		return Registry{}, err
	}
	out := Registry{Object: "federation.registry", GeneratedAt: c.now(), Models: []registry.Model{}}
	for _, m := range models {
		if m.Tenant != "" || !m.Status.Invocable() {
			continue
		}
		out.Models = append(out.Models, m.Redacted())
	}
	return out, nil
}

// ExportBaseline is the baseline export.
func (c *Centre) ExportBaseline(ctx context.Context) (Baseline, error) {
	b, err := c.Guardrails.Repo.Baseline(ctx)
	if err != nil {
		return Baseline{}, err
	}
	out := Baseline{Object: "federation.baseline", GeneratedAt: c.now(), PolicyRef: b.Policy}
	if b.Policy != "" {
		if out.Policy, err = c.Guardrails.PolicyByRef(ctx, b.Policy); err != nil {
			return Baseline{}, err
		}
	}
	return out, nil
}

func (c *Centre) registry(w http.ResponseWriter, r *http.Request) {
	out, err := c.ExportRegistry(r.Context())
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (c *Centre) baseline(w http.ResponseWriter, r *http.Request) {
	out, err := c.ExportBaseline(r.Context())
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// Source is where a decentralised Plinth pulls from.
type Source struct {
	// URL is the centre's base URL (PLINTH_CENTRAL_URL), e.g. https://plinth.example.com.
	URL string
	// Key is a read-only credential of the centre (PLINTH_CENTRAL_KEY): a platform auditor
	// key, sent as a bearer token. Empty when HTTP signs its requests instead (SigV4 for a
	// centre on AWS, whose admin API is IAM-authorised): no Authorization header is set.
	Key string
	// Auth names how the puller authenticates, for logs: "key" or "sigv4".
	Auth string
	// Interval between pulls (PLINTH_CENTRAL_SYNC_INTERVAL, default 5 minutes).
	Interval time.Duration
	// HTTP is the client (default: 30-second timeout).
	HTTP *http.Client
}

// Configured reports whether a centre is set.
func (s Source) Configured() bool { return s.URL != "" }

// ErrCentre means the centre could not be read: the pull changed nothing locally.
var ErrCentre = errors.New("central platform")

func (s Source) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.URL, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCentre, err)
	}
	if s.Key != "" {
		req.Header.Set("Authorization", "Bearer "+s.Key)
	}
	req.Header.Set("Accept", "application/json")
	client := s.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrCentre, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrCentre, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return fmt.Errorf("%w: GET %s: %d %s: %s", ErrCentre, path, resp.StatusCode, e.Error.Code, e.Error.Message)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrCentre, path, err)
	}
	return nil
}

// Pull reads both exports. Nothing is applied unless both arrive.
func (s Source) Pull(ctx context.Context) (Registry, Baseline, error) {
	var reg Registry
	var base Baseline
	if err := s.get(ctx, "/admin/sync/registry", &reg); err != nil {
		return Registry{}, Baseline{}, err
	}
	if reg.Object != "federation.registry" {
		return Registry{}, Baseline{}, fmt.Errorf("%w: /admin/sync/registry answered object %q", ErrCentre, reg.Object)
	}
	if err := s.get(ctx, "/admin/sync/baseline", &base); err != nil {
		return Registry{}, Baseline{}, err
	}
	if base.Object != "federation.baseline" || (base.PolicyRef != "" && base.Policy == nil) {
		return Registry{}, Baseline{}, fmt.Errorf("%w: /admin/sync/baseline answered an incomplete baseline", ErrCentre)
	}
	return reg, base, nil
}

// State is what the last applied pull synchronised, kept in the local store.
//
//	PK FEDERATION  SK STATE → State
type State struct {
	SyncedAt time.Time `json:"synced_at"`
	// Models are the ids of the synchronised models.
	Models []string `json:"models"`
	// BaselinePolicy is the local id of the synchronised baseline policy ("" for none);
	// CentralRef the centre's baseline it came from; LocalRef the local baseline set.
	BaselinePolicy string `json:"baseline_policy,omitempty"`
	CentralRef     string `json:"central_ref,omitempty"`
	LocalRef       string `json:"local_ref,omitempty"`
}

var stateKey = store.Key{PK: "FEDERATION", SK: "STATE"}

// LoadState returns the last applied state (zero before the first).
func LoadState(ctx context.Context, st store.Store) (State, error) {
	it, err := st.Get(ctx, stateKey)
	if errors.Is(err, store.ErrNotFound) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read federation state: %w", err)
	}
	var s State
	if err := json.Unmarshal(it.Data, &s); err != nil {
		return State{}, fmt.Errorf("decode federation state: %w", err)
	}
	return s, nil
}

// Result says what one apply changed.
type Result struct {
	Created, Updated, Retired []string
	// Skipped are central models the line of business has a model of its own under the
	// same id (the built-ins, for one): left as they are.
	Skipped []string
	// Baseline is the local baseline reference after the apply.
	Baseline string
	// Errors are models or the baseline that could not be applied; the rest was.
	Errors []error
}

// Local is the decentralised Plinth's side.
type Local struct {
	Store      store.Store
	Registry   *registry.Service
	Guardrails *guardrail.Service
	Now        func() time.Time
}

// Apply makes the local registry and baseline match the centre's exports.
func (l *Local) Apply(ctx context.Context, reg Registry, base Baseline) (Result, error) {
	var res Result
	prev, err := LoadState(ctx, l.Store)
	if err != nil {
		return res, err
	}
	synced := map[string]bool{}
	central := map[string]registry.Model{}
	for _, m := range reg.Models {
		central[m.ID] = m
	}
	ids := make([]string, 0, len(central))
	for id := range central {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// Fallbacks may name models created in this pass: set them after every model exists.
	for _, id := range ids {
		m := central[id]
		cur, err := l.Registry.Get(ctx, id)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			want := desired(m)
			want.Fallbacks = nil
			if _, err := l.Registry.Create(ctx, want, Syncer); err != nil {
				res.Errors = append(res.Errors, fmt.Errorf("model %s: %w", id, err))
				continue
			}
			res.Created = append(res.Created, id)
		case err != nil:
			res.Errors = append(res.Errors, fmt.Errorf("model %s: %w", id, err))
			continue
		case cur.Tags[SourceTag] != SourceCentral:
			res.Skipped = append(res.Skipped, id)
			continue
		}
		synced[id] = true
	}
	for _, id := range ids {
		if !synced[id] {
			continue
		}
		m := central[id]
		cur, err := l.Registry.Get(ctx, id)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("model %s: %w", id, err))
			continue
		}
		want := desired(m)
		if !sameDefinition(cur, want) {
			if _, err := l.Registry.Update(ctx, id, func(x *registry.Model) error { copyDefinition(x, want); return nil }); err != nil {
				res.Errors = append(res.Errors, fmt.Errorf("model %s: %w", id, err))
				continue
			}
			if !slices.Contains(res.Created, id) {
				res.Updated = append(res.Updated, id)
			}
		}
		if err := l.review(ctx, m.Status, id); err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("model %s: %w", id, err))
		}
	}
	// Withdrawn at the centre: retired here.
	for _, id := range prev.Models {
		if synced[id] {
			continue
		}
		cur, err := l.Registry.Get(ctx, id)
		if errors.Is(err, registry.ErrNotFound) {
			continue
		}
		if err == nil && cur.Status != registry.StatusRetired {
			_, err = l.Registry.Review(ctx, id, "retire", Syncer, "withdrawn by the central platform")
		}
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("retire model %s: %w", id, err))
			synced[id] = true // keep tracking it until it is retired
			continue
		}
		res.Retired = append(res.Retired, id)
	}

	next := State{SyncedAt: l.now(), BaselinePolicy: prev.BaselinePolicy, CentralRef: prev.CentralRef, LocalRef: prev.LocalRef}
	for id := range synced {
		next.Models = append(next.Models, id)
	}
	sort.Strings(next.Models)
	if err := l.applyBaseline(ctx, base, &next); err != nil {
		res.Errors = append(res.Errors, fmt.Errorf("guardrail baseline: %w", err))
	}
	res.Baseline = next.LocalRef
	data, _ := json.Marshal(next)
	if _, err := l.Store.Put(ctx, store.Item{Key: stateKey, Data: data}, store.WriteOptions{}); err != nil {
		return res, fmt.Errorf("save federation state: %w", err)
	}
	return res, nil
}

func (l *Local) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

// review moves a synchronised model to the centre's status (approved or deprecated).
func (l *Local) review(ctx context.Context, to registry.Status, id string) error {
	cur, err := l.Registry.Get(ctx, id)
	if err != nil {
		return err
	}
	from := cur.Status
	if from == to {
		return nil
	}
	steps := map[registry.Status][]string{
		registry.StatusApproved:   {"approve"},
		registry.StatusDeprecated: {"approve", "deprecate"},
	}[to]
	if from == registry.StatusApproved {
		steps = steps[1:]
	}
	for _, d := range steps {
		if _, err := l.Registry.Review(ctx, id, d, Syncer, "synchronised from the central platform"); err != nil {
			return err
		}
	}
	return nil
}

// applyBaseline stores the centre's baseline policy under its id and makes it the local
// floor; with no central baseline, the synchronised floor is removed.
func (l *Local) applyBaseline(ctx context.Context, base Baseline, st *State) error {
	if base.PolicyRef == st.CentralRef && (base.PolicyRef == "" || st.LocalRef != "") {
		return nil
	}
	if base.PolicyRef == "" {
		if _, err := l.Guardrails.Repo.SetBaseline(ctx, "", Syncer); err != nil {
			return err
		}
		st.CentralRef, st.LocalRef = "", ""
		return nil
	}
	p := *base.Policy
	id := p.ID
	p.Tenant, p.Version = "", 0
	info, err := l.Guardrails.Repo.Info(ctx, id)
	var stored *guardrail.Policy
	switch {
	case errors.Is(err, guardrail.ErrPolicyNotFound):
		stored, err = l.Guardrails.Repo.Create(ctx, p)
	case err != nil:
	case info.Tenant != "":
		err = fmt.Errorf("local policy %s belongs to tenant %s; the centre's baseline cannot replace it", id, info.Tenant)
	default:
		stored, err = l.Guardrails.Repo.Update(ctx, id, p)
	}
	if err != nil {
		return err
	}
	ref := fmt.Sprintf("%s:%d", id, stored.Version)
	if _, err := l.Guardrails.Repo.SetBaseline(ctx, ref, Syncer); err != nil {
		return err
	}
	st.BaselinePolicy, st.CentralRef, st.LocalRef = id, base.PolicyRef, ref
	return nil
}

// desired is the local form of a central model: its definition, tagged as central.
func desired(m registry.Model) registry.Model {
	out := registry.Model{
		ID: m.ID, Kind: m.Kind, Description: m.Description, Owner: m.Owner,
		Aliases: m.Aliases, Deployments: m.Deployments, Fallbacks: m.Fallbacks, Timeouts: m.Timeouts,
		Prices: m.Prices, ContextWindow: m.ContextWindow, MaxOutputTokens: m.MaxOutputTokens,
		Dimensions: m.Dimensions, SupportsDimensions: m.SupportsDimensions,
		Tags: map[string]string{},
	}
	for k, v := range m.Tags {
		out.Tags[k] = v
	}
	out.Tags[SourceTag] = SourceCentral
	return out
}

// copyDefinition sets x's definition to want's (not its status or reviews).
func copyDefinition(x *registry.Model, want registry.Model) {
	x.Kind, x.Description, x.Owner, x.Tags = want.Kind, want.Description, want.Owner, want.Tags
	x.Aliases, x.Deployments, x.Fallbacks, x.Timeouts = want.Aliases, want.Deployments, want.Fallbacks, want.Timeouts
	x.Prices, x.ContextWindow, x.MaxOutputTokens = want.Prices, want.ContextWindow, want.MaxOutputTokens
	x.Dimensions, x.SupportsDimensions = want.Dimensions, want.SupportsDimensions
}

func sameDefinition(cur, want registry.Model) bool {
	x := cur
	copyDefinition(&x, want)
	norm := func(m registry.Model) registry.Model {
		m.Deployments = slices.Clone(m.Deployments)
		for i := range m.Deployments {
			m.Deployments[i].APIKey = ""
			if m.Deployments[i].Weight == 0 {
				m.Deployments[i].Weight = 1
			}
		}
		return m
	}
	return reflect.DeepEqual(norm(x), norm(cur))
}

// Run pulls and applies at once and then every Interval until ctx ends, logging each
// outcome through report (a failed pull leaves the last applied state in force).
func Run(ctx context.Context, src Source, l *Local, report func(Result, error)) {
	interval := src.Interval
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	for {
		res, err := SyncOnce(ctx, src, l)
		if report != nil {
			report(res, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// SyncOnce pulls both exports and applies them.
func SyncOnce(ctx context.Context, src Source, l *Local) (Result, error) {
	reg, base, err := src.Pull(ctx)
	if err != nil {
		return Result{}, err
	}
	return l.Apply(ctx, reg, base)
}

// ReadOnly refuses local changes to what the centre owns: the guardrail baseline, the
// synchronised baseline policy and synchronised models (403 permission_denied).
func ReadOnly(st store.Store) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				next.ServeHTTP(w, r)
				return
			}
			state, err := LoadState(r.Context(), st)
			if err != nil {
				httpapi.WriteError(w, err)
				return
			}
			if what := centrallyOwned(r, state); what != "" {
				httpapi.WriteError(w, httpapi.Errorf(http.StatusForbidden, httpapi.CodePermissionDenied,
					"%s is synchronised from the central platform and read-only here; change it there and it arrives with the next pull", what))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func centrallyOwned(r *http.Request, s State) string {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPut && path == "/admin/guardrail-baseline" && s.LocalRef != "":
		return "the guardrail baseline"
	case strings.HasPrefix(path, "/admin/guardrail-policies/") && s.BaselinePolicy != "":
		rest := strings.TrimPrefix(path, "/admin/guardrail-policies/")
		if rest == s.BaselinePolicy || strings.HasPrefix(rest, s.BaselinePolicy+"/") {
			return "guardrail policy " + s.BaselinePolicy
		}
	case strings.HasPrefix(path, "/admin/models/"):
		rest := strings.TrimPrefix(path, "/admin/models/")
		for _, id := range s.Models {
			if rest == id || strings.HasPrefix(rest, id+"/") {
				return "model " + id
			}
		}
	}
	return ""
}
