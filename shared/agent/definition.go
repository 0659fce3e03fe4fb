package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/idpattern"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Sentinel errors. Handlers map them to HTTP statuses with errors.Is.
var (
	ErrNotFound = fault.Sentinel("agent: not found", fault.ErrNotFound)
	ErrInvalid  = fault.Sentinel("agent: invalid input", fault.ErrInvalid)
	ErrConflict = fault.Sentinel("agent: conflict", fault.ErrConflict)
	// ErrTaken means another tenant already has an agent with the ID.
	ErrTaken = fault.Sentinel("agent: id taken", fault.ErrExists)
)

// Budget bounds one run of an agent (zero fields are unbounded).
type Budget struct {
	MaxTokens    int64   `json:"max_tokens,omitempty"`
	MaxUSD       float64 `json:"max_usd,omitempty"`
	MaxToolCalls int     `json:"max_tool_calls,omitempty"`
}

// Definition is one immutable version of a registered agent.
type Definition struct {
	ID string `json:"id"`
	// Tenant owns the agent: only its keys run it.
	Tenant      string `json:"tenant"`
	Version     int    `json:"version"`
	Description string `json:"description,omitempty"`
	// Model is a model ID or alias of the registry.
	Model        string   `json:"model"`
	Instructions string   `json:"instructions,omitempty"`
	Temperature  *float64 `json:"temperature,omitempty"`
	// Tools are tool hub tools by the names the tenant sees them (the hub's grants still
	// decide every call).
	Tools []string `json:"tools,omitempty"`
	// Agents are other agents of the tenant this one may call as tools.
	Agents []string `json:"agents,omitempty"`
	// RequireApproval lists tools whose calls wait for a human's approval.
	RequireApproval []string `json:"require_approval,omitempty"`
	// MaxSteps bounds the model steps of a run (default 10).
	MaxSteps  int       `json:"max_steps,omitempty"`
	Budget    Budget    `json:"budget"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// DefaultMaxSteps bounds a run whose agent sets no max_steps.
const DefaultMaxSteps = 10

// Steps returns the run's step limit.
func (d *Definition) Steps() int {
	if d.MaxSteps > 0 {
		return d.MaxSteps
	}
	return DefaultMaxSteps
}

var idPattern = idpattern.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func (d *Definition) validate() error {
	switch {
	case !idPattern.MatchString(d.ID):
		return fmt.Errorf("%w: id %q must be 1-64 lowercase letters, digits, '_' and '-'", ErrInvalid, d.ID)
	case !tenant.ValidID(d.Tenant):
		return fmt.Errorf("%w: tenant %q is not a valid tenant id", ErrInvalid, d.Tenant)
	case d.Model == "":
		return fmt.Errorf("%w: model is required", ErrInvalid)
	case d.MaxSteps < 0 || d.MaxSteps > 100:
		return fmt.Errorf("%w: max_steps must be between 1 and 100", ErrInvalid)
	case d.Budget.MaxTokens < 0 || d.Budget.MaxUSD < 0 || d.Budget.MaxToolCalls < 0:
		return fmt.Errorf("%w: budget must not be negative", ErrInvalid)
	}
	for _, a := range d.Agents {
		if a == d.ID {
			return fmt.Errorf("%w: an agent cannot call itself", ErrInvalid)
		}
	}
	return nil
}

// Service stores agent definitions.
type Service struct {
	st   store.Store
	now  func() time.Time
	refs References
}

// References check what an agent names when it is saved. Each returns nil or an error of
// package fault's kinds saying what is wrong; a nil check accepts anything.
type References struct {
	// Tenant checks that the owning tenant exists.
	Tenant func(ctx context.Context, id string) error
	// ChatModel checks that a model ID or alias is a chat model.
	ChatModel func(ctx context.Context, id string) error
}

// Option configures a Service.
type Option func(*Service)

// WithReferences validates an agent's tenant and model when it is saved.
func WithReferences(r References) Option { return func(s *Service) { s.refs = r } }

// NewService returns the registry of agents over st.
func NewService(st store.Store, opts ...Option) *Service {
	if st == nil {
		panic("agent.NewService: nil store")
	}
	s := &Service{st: st, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

func defPK(id string) string { return "AGENT#DEF#" + id }
func defSK(v int) string     { return fmt.Sprintf("V#%06d", v) }

const indexPK = "AGENT#INDEX"

// Save stores a new version of an agent (version 1 for a new ID). An ID belongs to the
// tenant that first saved it.
func (s *Service) Save(ctx context.Context, d Definition, by string) (Definition, error) {
	if err := d.validate(); err != nil {
		return Definition{}, err
	}
	if check := s.refs.Tenant; check != nil {
		if err := check(ctx, d.Tenant); err != nil {
			return Definition{}, fault.WithParam(err, "tenant")
		}
	}
	if check := s.refs.ChatModel; check != nil {
		if err := check(ctx, d.Model); err != nil {
			return Definition{}, fault.WithParam(err, "model")
		}
	}
	for attempt := 0; attempt < 5; attempt++ {
		latest, err := s.Get(ctx, d.ID, 0)
		switch {
		case errors.Is(err, ErrNotFound):
			d.Version = 1
		case err != nil:
			return Definition{}, err
		case latest.Tenant != d.Tenant:
			return Definition{}, fault.New(ErrTaken, "id", "agent id %q is taken by another tenant; choose another id", d.ID)
		default:
			d.Version = latest.Version + 1
		}
		d.CreatedAt, d.CreatedBy = s.now().UTC(), by
		data, err := json.Marshal(d)
		if err != nil {
			return Definition{}, err
		}
		err = s.st.Transact(ctx, []store.Op{
			{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: defPK(d.ID), SK: defSK(d.Version)}, Data: data}, Options: store.WriteOptions{Cond: store.IfNotExists}},
			{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: indexPK, SK: d.ID}, Data: data}},
		})
		if errors.Is(err, store.ErrConditionFailed) || errors.Is(err, store.ErrTransactionConflict) {
			continue
		}
		if err != nil {
			return Definition{}, fmt.Errorf("save agent %s: %w", d.ID, err)
		}
		return d, nil
	}
	return Definition{}, fmt.Errorf("save agent %s: %w", d.ID, ErrConflict)
}

// Get returns a version of an agent (0 = the latest).
func (s *Service) Get(ctx context.Context, id string, version int) (Definition, error) {
	var it store.Item
	if version > 0 {
		got, err := s.st.Get(ctx, store.Key{PK: defPK(id), SK: defSK(version)})
		if errors.Is(err, store.ErrNotFound) {
			return Definition{}, fmt.Errorf("agent %s version %d: %w", id, version, ErrNotFound)
		}
		if err != nil {
			return Definition{}, err
		}
		it = got
	} else {
		items, err := s.st.Query(ctx, defPK(id), store.QueryOptions{Desc: true, Limit: 1})
		if err != nil {
			return Definition{}, err
		}
		if len(items) == 0 {
			return Definition{}, fmt.Errorf("agent %s: %w", id, ErrNotFound)
		}
		it = items[0]
	}
	var d Definition
	if err := json.Unmarshal(it.Data, &d); err != nil {
		return Definition{}, fmt.Errorf("decode agent %s: %w", id, err)
	}
	return d, nil
}

// For returns the latest version of an agent the tenant owns.
func (s *Service) For(ctx context.Context, tenantID, id string) (Definition, error) {
	d, err := s.Get(ctx, id, 0)
	if err != nil {
		return Definition{}, err
	}
	if d.Tenant != tenantID {
		return Definition{}, fmt.Errorf("agent %s: %w", id, ErrNotFound)
	}
	return d, nil
}

// List returns the latest version of every agent (of one tenant when tenantID is set).
func (s *Service) List(ctx context.Context, tenantID string) ([]Definition, error) {
	items, err := s.st.Query(ctx, indexPK, store.QueryOptions{})
	if err != nil {
		return nil, err
	}
	out := []Definition{}
	for _, it := range items {
		var d Definition
		if err := json.Unmarshal(it.Data, &d); err != nil {
			return nil, err
		}
		if tenantID == "" || d.Tenant == tenantID {
			out = append(out, d)
		}
	}
	return out, nil
}
