package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
)

// References check what a suite names when it is written, so a suite never points at
// something that does not exist. Each returns nil or an error of package fault's kinds
// saying what is wrong; a nil check accepts anything.
type References struct {
	// Tenant checks that the owning tenant exists.
	Tenant func(ctx context.Context, id string) error
	// ChatModel checks that a model ID or alias is a chat model (target and judge).
	ChatModel func(ctx context.Context, id string) error
	// KnowledgeBase checks that the tenant has the knowledge base.
	KnowledgeBase func(ctx context.Context, tenant, kb string) error
	// Prompt checks that a registry prompt template version exists (0 = any version).
	Prompt func(ctx context.Context, id string, version int) error
}

// WithReferences validates a suite's tenant, models, knowledge base and prompt on create
// and update.
func WithReferences(r References) Option { return func(s *Service) { s.refs = r } }

// CreateSuite validates and stores a new suite of su.Tenant. Another tenant may have a
// suite with the same ID.
func (s *Service) CreateSuite(ctx context.Context, su Suite) (*Suite, error) {
	if err := s.migrateLegacy(ctx); err != nil {
		return nil, err
	}
	if err := su.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkRunnable(&su); err != nil {
		return nil, err
	}
	if err := s.checkReferences(ctx, &su); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	su.CreatedAt, su.UpdatedAt = now, now
	if err := s.putSuite(ctx, &su, store.WriteOptions{Cond: store.IfNotExists}); err != nil {
		return nil, err
	}
	return &su, nil
}

// UpdateSuite replaces an existing suite of su.Tenant, keeping its creation time.
func (s *Service) UpdateSuite(ctx context.Context, su Suite) (*Suite, error) {
	old, err := s.GetSuite(ctx, su.Tenant, su.ID)
	if err != nil {
		return nil, err
	}
	su.Tenant = old.Tenant
	if err := su.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkRunnable(&su); err != nil {
		return nil, err
	}
	if err := s.checkReferences(ctx, &su); err != nil {
		return nil, err
	}
	su.CreatedAt, su.UpdatedAt = old.CreatedAt, s.now().UTC()
	if err := s.putSuite(ctx, &su, store.WriteOptions{Cond: store.IfExists}); err != nil {
		return nil, err
	}
	return &su, nil
}

// checkRunnable rejects suites that need a port the service lacks.
func (s *Service) checkRunnable(su *Suite) error {
	for _, m := range su.EffectiveMetrics() {
		if m == MetricEmbeddingSimilarity && s.embedder == nil {
			return fault.New(ErrInvalid, "metrics", "metric %s needs an embedding model, and none is configured here", m)
		}
	}
	if su.Target.KnowledgeBase != "" && s.retriever == nil {
		return fault.New(ErrInvalid, "target.knowledge_base", "knowledge-base targets are not available here")
	}
	if p := su.Target.Prompt; p != nil {
		if s.prompts == nil {
			return fault.New(ErrInvalid, "target.prompt", "registry prompts are not available here")
		}
		if p.ID == "" || p.Version < 0 {
			return fault.New(ErrInvalid, "target.prompt", "target.prompt needs an id and a version ≥ 0")
		}
	}
	return nil
}

// refCheck is one reference of a suite and the field that names it.
type refCheck struct {
	param string
	check func() error
}

// checkReferences checks that the suite's tenant, models, knowledge base and prompt
// exist.
func (s *Service) checkReferences(ctx context.Context, su *Suite) error {
	r := s.refs
	var checks []refCheck
	if r.Tenant != nil {
		checks = append(checks, refCheck{"tenant", func() error { return r.Tenant(ctx, su.Tenant) }})
	}
	if r.ChatModel != nil {
		checks = append(checks, refCheck{"target.model", func() error { return r.ChatModel(ctx, su.Target.Model) }})
		if su.Judge != nil {
			checks = append(checks, refCheck{"judge.model", func() error { return r.ChatModel(ctx, su.Judge.Model) }})
		}
	}
	if kb := su.Target.KnowledgeBase; kb != "" && r.KnowledgeBase != nil {
		checks = append(checks, refCheck{"target.knowledge_base", func() error { return r.KnowledgeBase(ctx, su.Tenant, kb) }})
	}
	if p := su.Target.Prompt; p != nil && r.Prompt != nil {
		checks = append(checks, refCheck{"target.prompt", func() error { return r.Prompt(ctx, p.ID, p.Version) }})
	}
	for _, c := range checks {
		if err := c.check(); err != nil {
			return fault.WithParam(err, c.param)
		}
	}
	return nil
}

// GetSuite returns the tenant's suite. With tenant "", it returns the one suite of that
// ID across tenants, and fails with ErrAmbiguous when several tenants have one.
func (s *Service) GetSuite(ctx context.Context, tenant, id string) (*Suite, error) {
	if err := s.migrateLegacy(ctx); err != nil {
		return nil, err
	}
	if tenant == "" {
		return s.findSuite(ctx, id)
	}
	var su Suite
	if !reID.MatchString(tenant) || !reID.MatchString(id) {
		return nil, suiteNotFound(tenant, id)
	}
	if _, err := s.getJSON(ctx, suiteKey(tenant, id), &su); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, suiteNotFound(tenant, id)
		}
		return nil, fmt.Errorf("suite %q of tenant %s: %w", id, tenant, err)
	}
	return &su, nil
}

// findSuite returns the one suite with the ID, whichever tenant owns it.
func (s *Service) findSuite(ctx context.Context, id string) (*Suite, error) {
	suites, err := s.ListSuites(ctx, "")
	if err != nil {
		return nil, err
	}
	var found []Suite
	var owners []string
	for _, su := range suites {
		if su.ID == id {
			found = append(found, su)
			owners = append(owners, su.Tenant)
		}
	}
	switch len(found) {
	case 0:
		return nil, fault.New(ErrNotFound, "", "evaluation suite %q does not exist; list suites with GET /admin/eval-suites", id)
	case 1:
		return &found[0], nil
	}
	return nil, fault.New(ErrAmbiguous, "tenant", "tenants %s each have an evaluation suite %q; add ?tenant= to say whose", strings.Join(owners, ", "), id)
}

// ListSuites returns every suite, or the tenant's when tenant is not empty, by tenant
// and ID.
func (s *Service) ListSuites(ctx context.Context, tenant string) ([]Suite, error) {
	if err := s.migrateLegacy(ctx); err != nil {
		return nil, err
	}
	prefix := "SUITE#"
	if tenant != "" {
		prefix += tenant + "#"
	}
	items, err := s.store.Query(ctx, pkSuites, store.QueryOptions{Prefix: prefix})
	if err != nil {
		return nil, fmt.Errorf("list suites: %w", err)
	}
	out := []Suite{}
	for _, it := range items {
		var su Suite
		if err := json.Unmarshal(it.Data, &su); err != nil {
			return nil, fmt.Errorf("decode suite %s: %w", it.SK, err)
		}
		if tenant == "" || su.Tenant == tenant {
			out = append(out, su)
		}
	}
	return out, nil
}

// DeleteSuite removes the tenant's suite (its runs stay readable).
func (s *Service) DeleteSuite(ctx context.Context, tenant, id string) error {
	su, err := s.GetSuite(ctx, tenant, id)
	if err != nil {
		return err
	}
	if err := s.store.Delete(ctx, suiteKey(su.Tenant, su.ID), store.WriteOptions{Cond: store.IfExists}); err != nil {
		if errors.Is(err, store.ErrConditionFailed) {
			return suiteNotFound(su.Tenant, id)
		}
		return fmt.Errorf("delete suite %q of tenant %s: %w", id, su.Tenant, err)
	}
	return nil
}

func suiteNotFound(tenant, id string) error {
	return fault.New(ErrNotFound, "", "tenant %s has no evaluation suite %q; list its suites with GET /admin/eval-suites?tenant=%s", tenant, id, tenant)
}

// migrateLegacy moves suites stored before suites were scoped by tenant (SK SUITE#<id>)
// and their run index entries to the current layout, once per process: later calls cost
// nothing. A failure is returned and the move retried on the next call.
func (s *Service) migrateLegacy(ctx context.Context) error {
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	if s.migrated {
		return nil
	}
	items, err := s.store.Query(ctx, pkSuites, store.QueryOptions{Prefix: "SUITE#"})
	if err != nil {
		return fmt.Errorf("read suites: %w", err)
	}
	for _, it := range items {
		if strings.Count(it.SK, "#") != 1 {
			continue
		}
		var su Suite
		if err := json.Unmarshal(it.Data, &su); err != nil {
			return fmt.Errorf("decode suite %s: %w", it.SK, err)
		}
		if err := s.migrateSuite(ctx, it, &su); err != nil {
			return err
		}
	}
	s.migrated = true
	return nil
}

func (s *Service) migrateSuite(ctx context.Context, legacy store.Item, su *Suite) error {
	oldRuns := "EVAL#SUITE#" + su.ID + "#RUNS"
	entries, err := s.store.Query(ctx, oldRuns, store.QueryOptions{})
	if err != nil {
		return fmt.Errorf("read runs of suite %s: %w", su.ID, err)
	}
	for _, e := range entries {
		if _, err := s.store.Put(ctx, store.Item{Key: store.Key{PK: runIndexPK(su.Tenant, su.ID), SK: e.SK}, Data: e.Data}, store.WriteOptions{}); err != nil {
			return fmt.Errorf("move run %s of suite %s: %w", e.SK, su.ID, err)
		}
	}
	err = s.store.Transact(ctx, []store.Op{
		{Kind: store.OpPut, Item: store.Item{Key: suiteKey(su.Tenant, su.ID), Data: legacy.Data}},
		{Kind: store.OpDelete, Key: legacy.Key, Options: store.WriteOptions{Cond: store.IfVersion, Version: legacy.Version}},
	})
	if err != nil && !errors.Is(err, store.ErrConditionFailed) && !errors.Is(err, store.ErrTransactionConflict) {
		return fmt.Errorf("move suite %s of tenant %s: %w", su.ID, su.Tenant, err)
	}
	for _, e := range entries {
		if err := s.store.Delete(ctx, store.Key{PK: oldRuns, SK: e.SK}, store.WriteOptions{}); err != nil {
			return fmt.Errorf("remove moved run %s of suite %s: %w", e.SK, su.ID, err)
		}
	}
	s.log.Info("moved an evaluation suite to its tenant's keys", "tenant", su.Tenant, "suite", su.ID, "runs", len(entries))
	return nil
}

// ownedBy reports whether a run belongs to tenant ("" matches every tenant).
func ownedBy(r *Run, tenant string) bool { return tenant == "" || r.Tenant == tenant }
