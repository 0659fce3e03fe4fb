package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
)

// validARN accepts IAM role and user ARNs and STS assumed-role ARNs.
func validARN(arn string) bool {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[4] == "" || parts[5] == "" {
		return false
	}
	return parts[2] == "iam" || parts[2] == "sts"
}

// RoleARN turns an STS assumed-role ARN (arn:aws:sts::123:assumed-role/Role/session) into
// the role's IAM ARN (arn:aws:iam::123:role/Role); other ARNs are returned unchanged.
// Roles with a path must be mapped by their assumed-role form, since STS drops the path.
func RoleARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "sts" || !strings.HasPrefix(parts[5], "assumed-role/") {
		return arn
	}
	rest := strings.TrimPrefix(parts[5], "assumed-role/")
	role, _, _ := strings.Cut(rest, "/")
	return strings.Join([]string{"arn", parts[1], "iam", "", parts[4], "role/" + role}, ":")
}

// MapIAMPrincipal maps a principal ARN to the tenant as a developer (scopes default to
// DefaultScopes). It fails with ErrExists when the ARN is already mapped.
func (s *Service) MapIAMPrincipal(ctx context.Context, tenantID, arn string, scopes []auth.Scope) (*IAMPrincipal, error) {
	return s.MapIAM(ctx, IAMPrincipal{ARN: arn, TenantID: tenantID, Scopes: scopes})
}

// MapIAM maps a principal ARN to a tenant with a role (default developer), or, with no
// tenant, to a platform role (auditor by default, or platform-admin). Scopes default to
// the role's and must fit it. It fails with ErrExists when the ARN is already mapped.
func (s *Service) MapIAM(ctx context.Context, m IAMPrincipal) (*IAMPrincipal, error) {
	if !validARN(m.ARN) {
		return nil, fault.New(ErrInvalid, "arn", "%q is not an IAM or STS ARN (arn:aws:iam::123456789012:role/name)", m.ARN)
	}
	allowed := platformRoles
	if m.TenantID != "" {
		if _, err := s.GetTenant(ctx, m.TenantID); err != nil {
			return nil, fmt.Errorf("map IAM principal: %w", err)
		}
		allowed = tenantRoles
	}
	role, scopes, err := roleAndScopes(m.Role, m.Scopes, allowed)
	if err != nil {
		return nil, fmt.Errorf("map IAM principal: %w", err)
	}
	p := IAMPrincipal{ARN: m.ARN, TenantID: m.TenantID, Role: role, Scopes: scopes, CreatedAt: s.opt.now().UTC()}
	data, _ := json.Marshal(p)
	_, err = s.st.Put(ctx, store.Item{Key: store.Key{PK: pkIAM, SK: m.ARN}, Data: data}, store.WriteOptions{Cond: store.IfNotExists})
	if errors.Is(err, store.ErrConditionFailed) {
		return nil, fault.New(ErrExists, "arn", "IAM principal %s is already mapped; unmap it first", m.ARN)
	}
	if err != nil {
		return nil, fmt.Errorf("map IAM principal %s: %w", m.ARN, err)
	}
	return &p, nil
}

// ListPlatformIAMPrincipals returns the ARNs mapped to platform roles.
func (s *Service) ListPlatformIAMPrincipals(ctx context.Context) ([]*IAMPrincipal, error) {
	return s.listIAM(ctx, "")
}

// ListIAMPrincipals returns the ARNs mapped to the tenant.
func (s *Service) ListIAMPrincipals(ctx context.Context, tenantID string) ([]*IAMPrincipal, error) {
	if _, err := s.GetTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	return s.listIAM(ctx, tenantID)
}

func (s *Service) listIAM(ctx context.Context, tenantID string) ([]*IAMPrincipal, error) {
	items, err := s.st.Query(ctx, pkIAM, store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list IAM principals: %w", err)
	}
	out := []*IAMPrincipal{}
	for _, it := range items {
		var p IAMPrincipal
		if err := json.Unmarshal(it.Data, &p); err != nil {
			return nil, fmt.Errorf("decode IAM principal %s: %w", it.SK, err)
		}
		if p.TenantID == tenantID {
			if p.Role == "" {
				p.Role = auth.RoleDeveloper
			}
			out = append(out, &p)
		}
	}
	return out, nil
}

// UnmapIAMPrincipal removes the tenant's mapping of the ARN (ErrNotFound if absent).
func (s *Service) UnmapIAMPrincipal(ctx context.Context, tenantID, arn string) error {
	it, err := s.st.Get(ctx, store.Key{PK: pkIAM, SK: arn})
	if err == nil {
		var p IAMPrincipal
		if json.Unmarshal(it.Data, &p) == nil && p.TenantID != tenantID {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return fault.New(ErrNotFound, "", "IAM principal %s is not mapped to tenant %s", arn, tenantID)
	}
	if err != nil {
		return fmt.Errorf("unmap IAM principal %s: %w", arn, err)
	}
	if err := s.st.Delete(ctx, it.Key, store.WriteOptions{Cond: store.IfVersion, Version: it.Version}); err != nil {
		return fmt.Errorf("unmap IAM principal %s: %w", arn, err)
	}
	s.mu.Lock()
	for k, e := range s.iam {
		if e.hash == arn {
			delete(s.iam, k)
		}
	}
	s.mu.Unlock()
	return nil
}

// AuthenticateIAM resolves a verified IAM principal ARN (from SigV4 verification locally,
// or API Gateway's IAM authorizer in AWS) to its tenant. An assumed-role ARN matches a
// mapping of itself or of its role. Errors: ErrUnknownPrincipal (also for an ARN mapped
// to a platform role: those serve the admin API only), ErrTenantSuspended.
func (s *Service) AuthenticateIAM(ctx context.Context, arn string) (auth.Principal, *Tenant, error) {
	p, t, err := s.AuthenticateIAMAny(ctx, arn)
	if err == nil && t == nil {
		return auth.Principal{}, nil, fmt.Errorf("%s is mapped to a platform role: %w", arn, ErrUnknownPrincipal)
	}
	return p, t, err
}

// AuthenticateIAMAny is AuthenticateIAM accepting platform mappings too (the tenant is
// nil for them); the admin API uses it.
func (s *Service) AuthenticateIAMAny(ctx context.Context, arn string) (auth.Principal, *Tenant, error) {
	now := s.opt.now()
	nowNS := now.UnixNano()
	s.mu.RLock()
	e := s.iam[arn]
	s.mu.RUnlock()
	if e == nil || nowNS >= e.until {
		var err error
		if e, err = s.loadIAM(ctx, arn, nowNS); err != nil {
			return auth.Principal{}, nil, err
		}
	}
	if e.err != nil {
		return auth.Principal{}, nil, e.err
	}
	if e.id.Tenant != nil && e.id.Tenant.Status != StatusActive {
		return auth.Principal{}, nil, fmt.Errorf("tenant %s: %w", e.id.Tenant.ID, ErrTenantSuspended)
	}
	return e.id.Principal, e.id.Tenant, nil
}

func (s *Service) loadIAM(ctx context.Context, arn string, nowNS int64) (*cacheEntry, error) {
	var (
		it  store.Item
		err error
	)
	for _, cand := range []string{arn, RoleARN(arn)} {
		it, err = s.st.Get(ctx, store.Key{PK: pkIAM, SK: cand})
		if !errors.Is(err, store.ErrNotFound) {
			break
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", arn, ErrUnknownPrincipal)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate IAM principal: %w", err)
	}
	var p IAMPrincipal
	if err := json.Unmarshal(it.Data, &p); err != nil {
		return nil, fmt.Errorf("decode IAM principal: %w", err)
	}
	if p.Role == "" {
		p.Role = auth.RoleDeveloper
	}
	if p.TenantID == "" {
		e := &cacheEntry{hash: p.ARN, until: nowNS + int64(s.opt.ttl),
			id: Identity{Principal: auth.Principal{KeyID: arn, Scopes: p.Scopes, Role: p.Role, Admin: p.Role == auth.RolePlatformAdmin}}}
		s.cacheIAM(arn, e)
		return e, nil
	}
	t, err := s.GetTenant(ctx, p.TenantID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", arn, ErrUnknownPrincipal)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate IAM principal: %w", err)
	}
	e := &cacheEntry{hash: p.ARN, until: nowNS + int64(s.opt.ttl),
		id: Identity{Principal: auth.Principal{TenantID: t.ID, KeyID: arn, Scopes: p.Scopes, Role: p.Role}, Tenant: t}}
	s.cacheIAM(arn, e)
	return e, nil
}

func (s *Service) cacheIAM(arn string, e *cacheEntry) {
	if s.opt.ttl <= 0 {
		return
	}
	s.mu.Lock()
	if len(s.iam) >= s.opt.maxEntries {
		clear(s.iam)
	}
	s.iam[arn] = e
	s.mu.Unlock()
}
