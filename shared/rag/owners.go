package rag

import (
	"context"
	"errors"
	"strings"

	"github.com/plinth-ai/plinth/shared/fault"
)

// Admin routes name a knowledge base by tenant and ID. These find it when the caller
// names only the ID, as every admin route allows: the ID must then name one tenant's
// knowledge base.

// tenantIDs lists every tenant, or says the call needs ?tenant= when the service cannot.
func (s *Service) tenantIDs(ctx context.Context) ([]string, error) {
	if s.refs.Tenants == nil {
		return nil, fault.New(ErrInvalid, "tenant", "name the knowledge base's tenant with ?tenant=")
	}
	return s.refs.Tenants(ctx)
}

// ListAllKnowledgeBases returns every tenant's knowledge bases, by tenant and ID.
func (s *Service) ListAllKnowledgeBases(ctx context.Context) ([]KnowledgeBase, error) {
	tenants, err := s.tenantIDs(ctx)
	if err != nil {
		return nil, err
	}
	out := []KnowledgeBase{}
	for _, t := range tenants {
		kbs, err := s.ListKnowledgeBases(ctx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, kbs...)
	}
	return out, nil
}

// FindKnowledgeBase returns the one knowledge base with the ID, whichever tenant owns it.
// It fails with ErrNotFound when none has it and ErrAmbiguous when several do.
func (s *Service) FindKnowledgeBase(ctx context.Context, id string) (KnowledgeBase, error) {
	tenants, err := s.tenantIDs(ctx)
	if err != nil {
		return KnowledgeBase{}, err
	}
	var found []KnowledgeBase
	var owners []string
	for _, t := range tenants {
		kb, err := s.GetKnowledgeBase(ctx, t, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return KnowledgeBase{}, err
		}
		found, owners = append(found, kb), append(owners, t)
	}
	switch len(found) {
	case 0:
		return KnowledgeBase{}, fault.New(ErrNotFound, "", "no tenant has a knowledge base %q; list them with GET /admin/knowledge-bases", id)
	case 1:
		return found[0], nil
	}
	return KnowledgeBase{}, fault.New(ErrAmbiguous, "tenant", "tenants %s each have a knowledge base %q; add ?tenant= to say whose", strings.Join(owners, ", "), id)
}

// checkTenant reports a tenant that does not exist (nil when it does, or when the service
// cannot tell).
func (s *Service) checkTenant(ctx context.Context, tenant string) error {
	if s.refs.Tenant == nil {
		return nil
	}
	return fault.WithParam(s.refs.Tenant(ctx, tenant), "tenant")
}
