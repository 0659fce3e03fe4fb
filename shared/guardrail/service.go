package guardrail

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// TenantPolicyFunc returns the policy ID (and version, 0 = latest) assigned to a tenant,
// or an empty ID when the tenant has none.
type TenantPolicyFunc func(ctx context.Context, tenantID string) (policyID string, version int, err error)

// Service ties the engine to stored policies and tenants' assignments; HTTP handlers and
// the gateway call it.
type Service struct {
	Engine *Engine
	Repo   *Repository
	tenant TenantPolicyFunc
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithTenantPolicy sets how a tenant's assigned policy is found (an empty ID means none).
func WithTenantPolicy(f TenantPolicyFunc) ServiceOption { return func(s *Service) { s.tenant = f } }

// NewService builds a service; engine and repo are required.
func NewService(engine *Engine, repo *Repository, opts ...ServiceOption) *Service {
	if engine == nil || repo == nil {
		panic("guardrail.NewService: nil engine or repository")
	}
	s := &Service{Engine: engine, Repo: repo}
	for _, o := range opts {
		o(s)
	}
	return s
}

// TenantPolicy returns the policy that applies to the tenant: the one assigned to it
// under the platform's baseline (Floor), or nil when there is neither.
func (s *Service) TenantPolicy(ctx context.Context, tenantID string) (*Policy, error) {
	if s.tenant == nil || tenantID == "" {
		return nil, nil
	}
	id, v, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("look up guardrail policy of tenant %s: %w", tenantID, err)
	}
	var p *Policy
	if id != "" {
		if p, err = s.Repo.GetFor(ctx, tenantID, id, v); err != nil {
			return nil, err
		}
	}
	base, err := s.BaselinePolicy(ctx)
	if err != nil {
		return nil, err
	}
	return Floor(p, base), nil
}

// EffectivePolicy is the policy that applies to a tenant's request: the tenant's assigned
// policy tightened by the request's own (inline, or a stored one named by ID), which may
// only make it stricter. It returns nil when there is none.
func (s *Service) EffectivePolicy(ctx context.Context, tenantID string, inline *Policy) (*Policy, error) {
	base, err := s.TenantPolicy(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if inline != nil {
		if err := inline.Validate(); err != nil {
			return nil, err
		}
		in := *inline
		in.Version = 0 // an inline document is never a stored version
		inline = &in
	}
	return Stricter(base, inline), nil
}

// Apply evaluates req for a tenant under its effective policy. With no policy at all the
// content passes unchanged (action NONE).
func (s *Service) Apply(ctx context.Context, tenantID string, req ApplyRequest) (ApplyResponse, error) {
	var ref *Policy
	if req.GuardrailIdentifier != "" {
		v := 0
		if req.GuardrailVersion != "" && req.GuardrailVersion != "DRAFT" {
			if _, err := fmt.Sscanf(req.GuardrailVersion, "%d", &v); err != nil {
				return ApplyResponse{}, fmt.Errorf("%w: guardrailVersion must be a number", ErrInvalidRequest)
			}
		}
		p, err := s.Repo.GetFor(ctx, tenantID, req.GuardrailIdentifier, v)
		if err != nil {
			return ApplyResponse{}, err
		}
		ref = p
	}
	p, err := s.EffectivePolicy(ctx, tenantID, req.Policy)
	if err != nil {
		return ApplyResponse{}, err
	}
	if ref != nil {
		if p == nil {
			p = ref
		} else {
			p = Stricter(p, ref)
		}
	}
	if p == nil {
		p = &Policy{Name: "none"}
	}
	return s.Engine.Apply(ctx, p, req)
}

// ParsePolicyRef splits a policy reference as stored on a tenant: "id" (latest version) or
// "id:version".
func ParsePolicyRef(ref string) (id string, version int, err error) {
	id = ref
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		id = ref[:i]
		version, err = strconv.Atoi(ref[i+1:])
		if err != nil || version < 1 {
			return "", 0, fmt.Errorf("%w: policy reference %q: version must be a positive integer", ErrInvalidPolicy, ref)
		}
	}
	return id, version, nil
}

// TenantPolicyFromRef adapts a lookup that returns a tenant's policy reference ("id" or
// "id:version", empty for none) to a TenantPolicyFunc.
func TenantPolicyFromRef(lookup func(ctx context.Context, tenantID string) (string, error)) TenantPolicyFunc {
	return func(ctx context.Context, tenantID string) (string, int, error) {
		ref, err := lookup(ctx, tenantID)
		if err != nil || ref == "" {
			return "", 0, err
		}
		return ParsePolicyRef(ref)
	}
}
