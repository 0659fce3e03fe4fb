package guardrail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
)

// The baseline is the platform's guardrail floor: a platform-shared policy every
// tenant's policy includes. A tenant's own policy may only add to it or tighten it; a
// tenant with no policy gets the baseline alone.
//
//	PK GUARDRAIL-BASELINE  SK CURRENT  → Baseline
var baselineKey = store.Key{PK: "GUARDRAIL-BASELINE", SK: "CURRENT"}

// Baseline names the platform's guardrail floor.
type Baseline struct {
	// Policy is a platform-shared policy reference ("id" for its latest version, or
	// "id:version"); empty when there is no floor.
	Policy    string    `json:"policy"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// Baseline returns the platform's guardrail floor (an empty Policy when none is set).
func (r *Repository) Baseline(ctx context.Context) (Baseline, error) {
	it, err := r.st.Get(ctx, baselineKey)
	if errors.Is(err, store.ErrNotFound) {
		return Baseline{}, nil
	}
	if err != nil {
		return Baseline{}, fmt.Errorf("read guardrail baseline: %w", err)
	}
	var b Baseline
	if err := json.Unmarshal(it.Data, &b); err != nil {
		return Baseline{}, fmt.Errorf("decode guardrail baseline: %w", err)
	}
	return b, nil
}

// SetBaseline makes the platform-shared policy ref the floor of every tenant's policy
// ("" removes the floor). A tenant's policy cannot be a floor: it fails with
// ErrInvalidPolicy, and a missing policy with ErrPolicyNotFound.
func (r *Repository) SetBaseline(ctx context.Context, ref, by string) (Baseline, error) {
	if ref != "" {
		id, v, err := ParsePolicyRef(ref)
		if err != nil {
			return Baseline{}, err
		}
		info, err := r.Info(ctx, id)
		if err != nil {
			return Baseline{}, err
		}
		if info.Tenant != "" {
			return Baseline{}, fmt.Errorf("%w: policy %s belongs to a tenant; the baseline must be platform-shared", ErrInvalidPolicy, id)
		}
		if v > info.LatestVersion {
			return Baseline{}, fmt.Errorf("policy %s version %d: %w", id, v, ErrPolicyNotFound)
		}
	}
	b := Baseline{Policy: ref, UpdatedAt: r.now().UTC(), UpdatedBy: by}
	data, _ := json.Marshal(b)
	if _, err := r.st.Put(ctx, store.Item{Key: baselineKey, Data: data}, store.WriteOptions{}); err != nil {
		return Baseline{}, fmt.Errorf("save guardrail baseline: %w", err)
	}
	return b, nil
}

// BaselinePolicy returns the policy the baseline names, or nil when there is none.
func (s *Service) BaselinePolicy(ctx context.Context) (*Policy, error) {
	b, err := s.Repo.Baseline(ctx)
	if err != nil || b.Policy == "" {
		return nil, err
	}
	p, err := s.PolicyByRef(ctx, b.Policy)
	if err != nil {
		return nil, fmt.Errorf("guardrail baseline %s: %w", b.Policy, err)
	}
	return p, nil
}

// Floor returns the policy that applies to a tenant whose own policy is p under the
// platform's baseline: everything both enforce, each rule at the stricter of the two,
// named after the tenant's policy. A tenant policy delegating exclusively to Amazon
// Bedrock still runs the baseline's built-in detectors. Either may be nil.
func Floor(p, baseline *Policy) *Policy {
	if baseline == nil {
		return p
	}
	out := Stricter(p, baseline)
	if out != baseline && out.Bedrock != nil && out.Bedrock.Exclusive && baseline.Bedrock == nil {
		bd := *out.Bedrock
		bd.Exclusive = false
		out.Bedrock = &bd
	}
	return out
}

// PolicyForTenant returns the policy that applies to a tenant's requests: the stored
// policy ref names (its own or a platform-shared one; "" for none) under the baseline.
// It returns nil when neither exists.
func (s *Service) PolicyForTenant(ctx context.Context, tenantID, ref string) (*Policy, error) {
	var p *Policy
	if ref != "" {
		var err error
		if p, err = s.PolicyByRefFor(ctx, tenantID, ref); err != nil {
			return nil, err
		}
	}
	base, err := s.BaselinePolicy(ctx)
	if err != nil {
		return nil, err
	}
	return Floor(p, base), nil
}
