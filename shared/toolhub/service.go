package toolhub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Caller is who lists or calls tools.
type Caller struct {
	Principal auth.Principal
	// Tenant is the caller's tenant (read-only).
	Tenant *tenant.Tenant
	// RequestID correlates the call with the request that made it.
	RequestID string
}

// Store layout (single table):
//
//	TOOLHUB#SERVERS        / <server id>   one server with its catalogued tools
//	TOOLHUB#GRANTS#<tenant> / <grant id>   one grant
const (
	serversPK   = "TOOLHUB#SERVERS"
	grantsPKPfx = "TOOLHUB#GRANTS#"
)

// Service is the catalog: servers, their tools and reviews, and grants.
type Service struct {
	st       store.Store
	backends map[Kind]Backend
	secrets  Secrets
	tenants  func(ctx context.Context, id string) error
	now      func() time.Time
	ttl      time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	servers *snapshot
	grants  map[string]*grantSnap
	// changed is closed and replaced whenever this process changes the catalog or grants.
	changed chan struct{}
}

type snapshot struct {
	byID map[string]*Server
	at   time.Time
}

type grantSnap struct {
	grants []Grant
	at     time.Time
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithBackend sets the backend that reaches servers of a kind.
func WithBackend(k Kind, b Backend) ServiceOption { return func(s *Service) { s.backends[k] = b } }

// WithSecrets sets how credentials are resolved (default: the stored value only).
func WithSecrets(f Secrets) ServiceOption { return func(s *Service) { s.secrets = f } }

// WithGrantTenants checks that a grant's tenant exists when it is created (nil or an
// error of package fault's kinds).
func WithGrantTenants(check func(ctx context.Context, id string) error) ServiceOption {
	return func(s *Service) { s.tenants = check }
}

// WithClock sets the clock.
func WithClock(now func() time.Time) ServiceOption { return func(s *Service) { s.now = now } }

// WithCacheTTL sets how long other processes' catalog changes may take to be seen (default 5 s).
func WithCacheTTL(d time.Duration) ServiceOption { return func(s *Service) { s.ttl = d } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) ServiceOption { return func(s *Service) { s.log = l } }

// NewService returns the catalog over st. It panics if st is nil.
func NewService(st store.Store, opts ...ServiceOption) *Service {
	if st == nil {
		panic("toolhub.NewService: nil store")
	}
	s := &Service{st: st, backends: map[Kind]Backend{}, now: time.Now, ttl: 5 * time.Second,
		grants: map[string]*grantSnap{}, changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if s.secrets == nil {
		s.secrets = func(_ context.Context, c *Credential) (string, error) { return c.Value, nil }
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Changed returns a channel closed at the next catalog or grant change made through
// this Service (callers re-read and call Changed again).
func (s *Service) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *Service) invalidate(tenantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tenantID == "" {
		s.servers = nil
	} else {
		delete(s.grants, tenantID)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Servers returns every server, read through a short-lived cache (callers must not
// modify them).
func (s *Service) Servers(ctx context.Context) (map[string]*Server, error) {
	s.mu.Lock()
	snap := s.servers
	s.mu.Unlock()
	if snap != nil && s.now().Sub(snap.at) < s.ttl {
		return snap.byID, nil
	}
	items, err := s.st.Query(ctx, serversPK, store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list tool servers: %w", err)
	}
	byID := make(map[string]*Server, len(items))
	for _, it := range items {
		var srv Server
		if err := json.Unmarshal(it.Data, &srv); err != nil {
			return nil, fmt.Errorf("decode tool server %s: %w", it.SK, err)
		}
		srv.Version = it.Version
		byID[srv.ID] = &srv
	}
	s.mu.Lock()
	s.servers = &snapshot{byID: byID, at: s.now()}
	s.mu.Unlock()
	return byID, nil
}

// Grants returns a tenant's grants through a short-lived cache.
func (s *Service) Grants(ctx context.Context, tenantID string) ([]Grant, error) {
	s.mu.Lock()
	snap := s.grants[tenantID]
	s.mu.Unlock()
	if snap != nil && s.now().Sub(snap.at) < s.ttl {
		return snap.grants, nil
	}
	items, err := s.st.Query(ctx, grantsPKPfx+tenantID, store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list tool grants of %s: %w", tenantID, err)
	}
	out := make([]Grant, 0, len(items))
	for _, it := range items {
		var g Grant
		if err := json.Unmarshal(it.Data, &g); err != nil {
			return nil, fmt.Errorf("decode tool grant %s: %w", it.SK, err)
		}
		out = append(out, g)
	}
	s.mu.Lock()
	if len(s.grants) > 10_000 {
		clear(s.grants)
	}
	s.grants[tenantID] = &grantSnap{grants: out, at: s.now()}
	s.mu.Unlock()
	return out, nil
}

// Server returns one server.
func (s *Service) Server(ctx context.Context, id string) (Server, error) {
	it, err := s.st.Get(ctx, store.Key{PK: serversPK, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return Server{}, fault.New(ErrNotFound, "", "tool server %q is not in the catalog; list them with GET /admin/tool-servers", id)
	}
	if err != nil {
		return Server{}, fmt.Errorf("get tool server %s: %w", id, err)
	}
	var srv Server
	if err := json.Unmarshal(it.Data, &srv); err != nil {
		return Server{}, fmt.Errorf("decode tool server %s: %w", id, err)
	}
	srv.Version = it.Version
	return srv, nil
}

// List returns every server, sorted by ID.
func (s *Service) List(ctx context.Context) ([]Server, error) {
	items, err := s.st.Query(ctx, serversPK, store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list tool servers: %w", err)
	}
	out := make([]Server, 0, len(items))
	for _, it := range items {
		var srv Server
		if err := json.Unmarshal(it.Data, &srv); err != nil {
			return nil, fmt.Errorf("decode tool server %s: %w", it.SK, err)
		}
		srv.Version = it.Version
		out = append(out, srv)
	}
	return out, nil
}

func (s *Service) put(ctx context.Context, srv *Server, cond store.Cond) error {
	b, err := json.Marshal(srv)
	if err != nil {
		return err
	}
	v, err := s.st.Put(ctx, store.Item{Key: store.Key{PK: serversPK, SK: srv.ID}, Data: b}, store.WriteOptions{Cond: cond, Version: srv.Version})
	if errors.Is(err, store.ErrConditionFailed) {
		if cond == store.IfNotExists {
			return fault.New(ErrExists, "id", "tool server %q is already in the catalog; choose another id", srv.ID)
		}
		return fmt.Errorf("tool server %s was changed concurrently: %w", srv.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("save tool server %s: %w", srv.ID, err)
	}
	srv.Version = v
	s.invalidate("")
	return nil
}

// Create registers a server in pending-review and, when its backend can list tools
// (MCP, OpenAPI, built-in), discovers them; every tool starts pending-review. A server
// whose tools cannot be listed now is still registered, with the sync error recorded.
func (s *Service) Create(ctx context.Context, srv Server, by string) (Server, error) {
	now := s.now().UTC()
	srv.Status, srv.Reviews, srv.Version = StatusPendingReview, nil, 0
	srv.CreatedAt, srv.UpdatedAt, srv.CreatedBy = now, now, by
	srv.SyncedAt, srv.SyncError = nil, ""
	for i := range srv.Tools {
		t := &srv.Tools[i]
		t.Hash, t.Status, t.ApprovedHash, t.Removed = DefinitionHash(t), StatusPendingReview, "", false
	}
	if err := srv.Validate(); err != nil {
		return Server{}, err
	}
	if slices.ContainsFunc(srv.Tools, func(t Tool) bool { return t.Operation != nil }) {
		return Server{}, fmt.Errorf("%w: tools[].operation is derived from the OpenAPI document", ErrInvalid)
	}
	if _, ok := s.backends[srv.Kind]; !ok {
		return Server{}, fmt.Errorf("%w: this platform has no backend for %s tool servers", ErrInvalid, srv.Kind)
	}
	if err := s.discover(ctx, &srv); err != nil {
		if errors.Is(err, ErrInvalid) {
			return Server{}, err
		}
		srv.SyncError = err.Error()
	}
	if err := s.put(ctx, &srv, store.IfNotExists); err != nil {
		return Server{}, err
	}
	return srv, nil
}

// Sync lists the server's tools again. A tool whose definition changed goes back to
// pending-review (hidden until approved again), new tools start pending-review, and tools
// no longer offered are marked removed.
func (s *Service) Sync(ctx context.Context, id string) (Server, error) {
	return s.update(ctx, id, func(srv *Server) error {
		err := s.discover(ctx, srv)
		if err != nil && !errors.Is(err, ErrInvalid) {
			srv.SyncError = err.Error()
			return nil
		}
		return err
	})
}

func (s *Service) discover(ctx context.Context, srv *Server) error {
	b := s.backends[srv.Kind]
	secret, err := s.secret(ctx, srv)
	if err != nil {
		return err
	}
	d, err := b.Discover(ctx, srv, secret)
	if err != nil {
		return err
	}
	if d == nil {
		return nil
	}
	for i := range d.Tools {
		if err := validTool(&d.Tools[i], srv.Prefix); err != nil {
			return fmt.Errorf("%s offers an unusable tool: %w", srv.ID, err)
		}
	}
	srv.Tools = mergeTools(srv.Tools, d.Tools)
	srv.Resources, srv.ResourceTemplates, srv.Prompts, srv.Capabilities = d.Resources, d.ResourceTemplates, d.Prompts, d.Capabilities
	now := s.now().UTC()
	srv.SyncedAt, srv.SyncError = &now, ""
	return nil
}

// mergeTools applies a fresh listing to the catalogued tools, keeping review state where
// the definition is unchanged.
func mergeTools(old, fresh []Tool) []Tool {
	prev := make(map[string]Tool, len(old))
	for _, t := range old {
		prev[t.Name] = t
	}
	seen := map[string]bool{}
	out := make([]Tool, 0, len(fresh))
	for _, t := range fresh {
		if seen[t.Name] {
			continue
		}
		seen[t.Name] = true
		t.Hash = DefinitionHash(&t)
		if p, ok := prev[t.Name]; ok {
			t.ApprovedHash = p.ApprovedHash
			t.Status = p.Status
			if t.Hash != p.Hash && p.Status == StatusApproved {
				t.Status = StatusPendingReview
			}
		} else {
			t.Status = StatusPendingReview
		}
		out = append(out, t)
	}
	for _, p := range old {
		if !seen[p.Name] {
			p.Removed = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Service) secret(ctx context.Context, srv *Server) (string, error) {
	if srv.Credential.IsZero() {
		return "", nil
	}
	v, err := s.secrets(ctx, srv.Credential)
	if err != nil {
		return "", fmt.Errorf("credential of %s: %w", srv.ID, err)
	}
	return v, nil
}

func (s *Service) update(ctx context.Context, id string, change func(*Server) error) (Server, error) {
	for attempt := 0; ; attempt++ {
		srv, err := s.Server(ctx, id)
		if err != nil {
			return Server{}, err
		}
		if err := change(&srv); err != nil {
			return Server{}, err
		}
		srv.UpdatedAt = s.now().UTC()
		err = s.put(ctx, &srv, store.IfVersion)
		if errors.Is(err, ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return Server{}, err
		}
		return srv, nil
	}
}

// Patch changes a server's settings. Only description, owner, tags, prefix, limits and
// credential change here; a changed URL, function or document is a new server.
type Patch struct {
	Description *string           `json:"description,omitempty"`
	Owner       *string           `json:"owner,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Prefix      *string           `json:"prefix,omitempty"`
	Limits      *Limits           `json:"limits,omitempty"`
	Credential  *Credential       `json:"credential,omitempty"`
}

// Update applies p.
func (s *Service) Update(ctx context.Context, id string, p Patch) (Server, error) {
	return s.update(ctx, id, func(srv *Server) error {
		if p.Description != nil {
			srv.Description = *p.Description
		}
		if p.Owner != nil {
			srv.Owner = *p.Owner
		}
		if p.Tags != nil {
			srv.Tags = p.Tags
		}
		if p.Prefix != nil {
			srv.Prefix = *p.Prefix
		}
		if p.Limits != nil {
			srv.Limits = *p.Limits
		}
		if p.Credential != nil {
			srv.Credential = p.Credential
		}
		return srv.Validate()
	})
}

// Review records a decision. "approve" approves the server and the named tools (all of
// its current, not removed tools when none are named), pinning each tool's current
// definition hash; "reject" rejects the named tools, or the whole server when none are
// named; "retire" withdraws the server.
func (s *Service) Review(ctx context.Context, id string, r Review) (Server, error) {
	if r.Reviewer == "" {
		return Server{}, fmt.Errorf("%w: reviewer is required", ErrInvalid)
	}
	return s.update(ctx, id, func(srv *Server) error {
		for _, name := range r.Tools {
			if _, ok := srv.Tool(name); !ok {
				return fmt.Errorf("%w: %s has no tool %q", ErrInvalid, id, name)
			}
		}
		named := func(t *Tool) bool { return len(r.Tools) == 0 || slices.Contains(r.Tools, t.Name) }
		switch r.Decision {
		case "approve":
			if srv.Status == StatusRetired {
				return fmt.Errorf("%w: %s is retired", ErrConflict, id)
			}
			srv.Status = StatusApproved
			for i := range srv.Tools {
				if t := &srv.Tools[i]; named(t) && !t.Removed {
					t.Status, t.ApprovedHash = StatusApproved, t.Hash
				}
			}
		case "reject":
			if len(r.Tools) == 0 {
				srv.Status = StatusRejected
			}
			for i := range srv.Tools {
				if t := &srv.Tools[i]; named(t) {
					t.Status = StatusRejected
				}
			}
		case "retire":
			srv.Status = StatusRetired
		default:
			return fmt.Errorf("%w: decision must be approve, reject or retire", ErrInvalid)
		}
		r.At = s.now().UTC()
		srv.Reviews = append(srv.Reviews, r)
		return nil
	})
}

// Delete removes a server and every grant of it.
func (s *Service) Delete(ctx context.Context, id string) error {
	if _, err := s.Server(ctx, id); err != nil {
		return err
	}
	if err := s.st.Delete(ctx, store.Key{PK: serversPK, SK: id}, store.WriteOptions{}); err != nil {
		return fmt.Errorf("delete tool server %s: %w", id, err)
	}
	s.invalidate("")
	return nil
}

// CreateGrant stores a grant. It refuses a grant of an unknown server and one that would
// give a caller two tools with one name.
func (s *Service) CreateGrant(ctx context.Context, g Grant, by string) (Grant, error) {
	if err := g.validate(); err != nil {
		return Grant{}, err
	}
	if s.tenants != nil {
		if err := s.tenants(ctx, g.Tenant); err != nil {
			return Grant{}, fault.WithParam(err, "tenant")
		}
	}
	srv, err := s.Server(ctx, g.Server)
	if err != nil {
		return Grant{}, err
	}
	for _, name := range g.Tools {
		if _, ok := srv.Tool(name); !ok {
			return Grant{}, fmt.Errorf("%w: %s has no tool %q", ErrInvalid, g.Server, name)
		}
	}
	existing, err := s.Grants(ctx, g.Tenant)
	if err != nil {
		return Grant{}, err
	}
	servers, err := s.Servers(ctx)
	if err != nil {
		return Grant{}, err
	}
	if err := nameClash(servers, append(slices.Clone(existing), g), g.KeyID); err != nil {
		return Grant{}, err
	}
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Grant{}, err
	}
	g.ID = "tg_" + hex.EncodeToString(raw[:])
	g.CreatedAt, g.CreatedBy = s.now().UTC(), by
	b, err := json.Marshal(g)
	if err != nil {
		return Grant{}, err
	}
	if _, err := s.st.Put(ctx, store.Item{Key: store.Key{PK: grantsPKPfx + g.Tenant, SK: g.ID}, Data: b}, store.WriteOptions{Cond: store.IfNotExists}); err != nil {
		return Grant{}, fmt.Errorf("save tool grant: %w", err)
	}
	s.invalidate(g.Tenant)
	return g, nil
}

// nameClash reports two tools of different granted servers that a caller with keyID
// would see under one name.
func nameClash(servers map[string]*Server, grants []Grant, keyID string) error {
	owner := map[string]string{}
	for _, g := range grants {
		if g.KeyID != "" && g.KeyID != keyID {
			continue
		}
		srv, ok := servers[g.Server]
		if !ok {
			continue
		}
		for _, t := range srv.Tools {
			if !g.WholeServer() && !slices.Contains(g.Tools, t.Name) {
				continue
			}
			name := srv.Prefix + t.Name
			if o, ok := owner[name]; ok && o != srv.ID {
				return fmt.Errorf("%w: servers %s and %s both offer a tool named %q; give one a prefix", ErrConflict, o, srv.ID, name)
			}
			owner[name] = srv.ID
		}
	}
	return nil
}

// DeleteGrant removes a grant.
func (s *Service) DeleteGrant(ctx context.Context, tenantID, id string) error {
	err := s.st.Delete(ctx, store.Key{PK: grantsPKPfx + tenantID, SK: id}, store.WriteOptions{Cond: store.IfExists})
	if errors.Is(err, store.ErrConditionFailed) {
		return fmt.Errorf("tool grant %s of %s: %w", id, tenantID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete tool grant %s: %w", id, err)
	}
	s.invalidate(tenantID)
	return nil
}
