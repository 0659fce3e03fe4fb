package kpi

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/toolhub"
	"github.com/plinth-ai/plinth/shared/usage"
)

// Compute builds the report for the window r.
func (s *Service) Compute(ctx context.Context, r usage.Range) (*Report, error) {
	now := s.now().UTC()
	rep := &Report{Object: "kpis", GeneratedAt: now, Start: r.Start.Format("2006-01-02"), End: r.End.Format("2006-01-02")}
	k := &rep.KPIs

	tenants, err := s.tenants.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("kpis: %w", err)
	}
	models, err := s.registry.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("kpis: %w", err)
	}
	canonical := modelNames(models)
	for _, m := range models {
		count(&k.Models, string(m.Status), registry.StatusApproved, registry.StatusPendingReview, registry.StatusRejected)
	}

	// Per tenant: credentials, traffic, cost, onboarding.
	modelTenants := map[string][]string{} // model → tenants that called it
	inUse := map[string]bool{}            // chat models called in the window
	var days []float64
	for _, t := range tenants {
		k.Tenants.Onboarded++
		if t.Status == tenant.StatusActive {
			k.Tenants.Active++
		}
		if t.IsolationTier == tenant.TierSilo {
			k.Tenants.Silo++
		}
		if t.GuardrailPolicy != "" {
			k.Guardrails.TenantsWithPolicy++
		}
		names, admin, registered, err := s.credentials(ctx, t.ID, now)
		if err != nil {
			return nil, err
		}
		k.UseCases.Registered += registered
		if admin && t.Status == tenant.StatusActive {
			k.Administration.TenantsWithAdmin++
		}

		rows, total, err := s.usage.Summary(ctx, t.ID, r, "model")
		if err != nil {
			return nil, fmt.Errorf("kpis: usage of %s: %w", t.ID, err)
		}
		k.Guardrails.Requests += total.Requests
		k.Guardrails.Guarded += total.Guarded
		for _, row := range rows {
			if row.Requests-row.Errors <= 0 {
				continue
			}
			id := canonical[row.Model]
			if id == "" {
				continue
			}
			modelTenants[id] = appendOnce(modelTenants[id], t.ID)
			inUse[id] = true
		}

		keys, err := s.usage.ByKey(ctx, t.ID, r)
		if err != nil {
			return nil, fmt.Errorf("kpis: usage of %s: %w", t.ID, err)
		}
		tc := TenantCost{Tenant: t.ID}
		inProduction := false
		for _, row := range keys {
			tc.Requests += row.Requests
			tc.CostUSD += row.CostUSD
			k.Cost.TotalUSD += row.CostUSD
			if usage.PlatformCaller(row.KeyID) {
				continue
			}
			k.Cost.AttributedShare += row.CostUSD // summed here, divided below
			if row.Requests-row.Errors > 0 {
				inProduction = true
				k.UseCases.InProduction++
				k.Cost.PerUseCase = append(k.Cost.PerUseCase, UseCaseCost{Tenant: t.ID, KeyID: row.KeyID, Name: names[row.KeyID], Requests: row.Requests, CostUSD: round(row.CostUSD)})
			}
		}
		if inProduction {
			k.Tenants.InProduction++
		}
		tc.CostUSD = round(tc.CostUSD)
		k.Cost.PerTenant = append(k.Cost.PerTenant, tc)

		ob := TenantOnboard{Tenant: t.ID, OnboardedAt: t.CreatedAt}
		first, ok, err := s.usage.FirstCall(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("kpis: first call of %s: %w", t.ID, err)
		}
		if ok {
			d := max(0, first.Sub(t.CreatedAt).Hours()/24)
			d = round2(d)
			ob.FirstCallAt, ob.Days = &first, &d
			days = append(days, d)
		}
		k.Onboarding.Tenants = append(k.Onboarding.Tenants, ob)
	}
	k.Models.InUse = len(inUse)
	k.Onboarding.MedianDaysToFirstCall = median(days)
	if k.Tenants.Active > 0 {
		k.Administration.DelegatedShare = round2(float64(k.Administration.TenantsWithAdmin) / float64(k.Tenants.Active))
	}
	if k.Cost.TotalUSD > 0 {
		k.Cost.AttributedShare = round2(k.Cost.AttributedShare / k.Cost.TotalUSD)
	} else {
		k.Cost.AttributedShare = 1
	}
	k.Cost.TotalUSD = round(k.Cost.TotalUSD)
	if n := len(k.Cost.PerTenant); n > 0 {
		k.Cost.PerTenantAvgUSD = round(k.Cost.TotalUSD / float64(n))
	}
	if n := len(k.Cost.PerUseCase); n > 0 {
		sum := 0.0
		for _, u := range k.Cost.PerUseCase {
			sum += u.CostUSD
		}
		k.Cost.PerUseCaseAvg = round(sum / float64(n))
	}
	sort.SliceStable(k.Cost.PerTenant, func(i, j int) bool { return k.Cost.PerTenant[i].CostUSD > k.Cost.PerTenant[j].CostUSD })
	sort.SliceStable(k.Cost.PerUseCase, func(i, j int) bool { return k.Cost.PerUseCase[i].CostUSD > k.Cost.PerUseCase[j].CostUSD })

	if err := s.guardrails(ctx, tenants, k); err != nil {
		return nil, err
	}
	prompts, err := s.registry.ListPrompts(ctx)
	if err != nil {
		return nil, fmt.Errorf("kpis: %w", err)
	}
	promptTenants, err := s.evaluation(ctx, r, canonical, inUse, prompts, k)
	if err != nil {
		return nil, err
	}
	toolTenants, err := s.toolCatalog(ctx, tenants, k)
	if err != nil {
		return nil, err
	}
	s.reuse(ctx, tenants, prompts, promptTenants, toolTenants, modelTenants, k)
	assess(rep)
	return rep, nil
}

// credentials returns a tenant's key names, whether it has an active tenant admin, and
// how many of its credentials may call (active keys and IAM principals).
func (s *Service) credentials(ctx context.Context, tenantID string, now time.Time) (map[string]string, bool, int, error) {
	keys, err := s.tenants.ListKeys(ctx, tenantID)
	if err != nil {
		return nil, false, 0, fmt.Errorf("kpis: keys of %s: %w", tenantID, err)
	}
	names := map[string]string{}
	admin, registered := false, 0
	for _, key := range keys {
		names[key.ID] = key.Name
		if key.Revoked || (key.ExpiresAt != nil && !key.ExpiresAt.After(now)) {
			continue
		}
		registered++
		admin = admin || key.Role == auth.RoleTenantAdmin
	}
	principals, err := s.tenants.ListIAMPrincipals(ctx, tenantID)
	if err != nil {
		return nil, false, 0, fmt.Errorf("kpis: IAM principals of %s: %w", tenantID, err)
	}
	for _, p := range principals {
		registered++
		admin = admin || p.Role == auth.RoleTenantAdmin
	}
	return names, admin, registered, nil
}

func (s *Service) guardrails(ctx context.Context, tenants []*tenant.Tenant, k *KPIs) error {
	b, err := s.guards.Baseline(ctx)
	if err != nil {
		return fmt.Errorf("kpis: %w", err)
	}
	k.Guardrails.Baseline = b.Policy
	switch {
	case k.Guardrails.Requests > 0:
		k.Guardrails.Share = round2(float64(k.Guardrails.Guarded) / float64(k.Guardrails.Requests))
	case b.Policy != "" || (len(tenants) > 0 && k.Guardrails.TenantsWithPolicy == len(tenants)):
		k.Guardrails.Share = 1
	}
	return nil
}

// evaluation computes coverage and regressions, and returns the tenants whose suites use
// each prompt.
func (s *Service) evaluation(ctx context.Context, r usage.Range, canonical map[string]string, inUse map[string]bool, prompts []registry.PromptInfo, k *KPIs) (map[string][]string, error) {
	k.Evaluation.ModelsInUse = len(inUse)
	k.Evaluation.Prompts = len(prompts)
	usedBy := map[string][]string{}
	if s.evals == nil {
		return usedBy, nil
	}
	suites, err := s.evals.ListSuites(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("kpis: %w", err)
	}
	coveredModels, coveredPrompts := map[string]bool{}, map[string]bool{}
	end := r.End.AddDate(0, 0, 1)
	for _, su := range suites {
		k.Evaluation.Suites++
		if su.Target.Prompt != nil {
			usedBy[su.Target.Prompt.ID] = appendOnce(usedBy[su.Target.Prompt.ID], su.Tenant)
		}
		runs, err := s.evals.ListRuns(ctx, su.Tenant, su.ID, s.runs)
		if err != nil {
			return nil, fmt.Errorf("kpis: runs of %s: %w", su.ID, err)
		}
		baseline := false
		for _, run := range runs {
			baseline = baseline || run.Status == eval.StatusSucceeded
			if len(run.Regressions) > 0 && !run.StartedAt.Before(r.Start) && run.StartedAt.Before(end) {
				k.Evaluation.RegressionsCaught++
			}
		}
		if su.Schedule == "" {
			continue
		}
		k.Evaluation.ScheduledSuites++
		if !baseline {
			continue
		}
		if id := canonical[su.Target.Model]; id != "" {
			coveredModels[id] = true
		}
		if su.Target.Prompt != nil {
			coveredPrompts[su.Target.Prompt.ID] = true
		}
	}
	for id := range coveredModels {
		if inUse[id] {
			k.Evaluation.ModelsCovered++
		}
	}
	for _, p := range prompts {
		if coveredPrompts[p.ID] {
			k.Evaluation.PromptsCovered++
		}
	}
	k.Evaluation.ModelCoverage = ratio(k.Evaluation.ModelsCovered, k.Evaluation.ModelsInUse)
	k.Evaluation.PromptCoverage = ratio(k.Evaluation.PromptsCovered, k.Evaluation.Prompts)
	return usedBy, nil
}

// toolCatalog counts tool servers and returns the tenants granted each.
func (s *Service) toolCatalog(ctx context.Context, tenants []*tenant.Tenant, k *KPIs) (map[string][]string, error) {
	granted := map[string][]string{}
	if s.tools == nil {
		return granted, nil
	}
	servers, err := s.tools.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("kpis: %w", err)
	}
	for _, srv := range servers {
		count(&k.Tools, string(srv.Status), toolhub.StatusApproved, toolhub.StatusPendingReview, toolhub.StatusRejected)
	}
	for _, t := range tenants {
		grants, err := s.tools.Grants(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("kpis: tool grants of %s: %w", t.ID, err)
		}
		for _, g := range grants {
			granted[g.Server] = appendOnce(granted[g.Server], t.ID)
		}
	}
	k.Tools.InUse = len(granted)
	return granted, nil
}

// reuse lists the platform-shared assets and the tenants using each.
func (s *Service) reuse(ctx context.Context, tenants []*tenant.Tenant, prompts []registry.PromptInfo, promptTenants, toolTenants, modelTenants map[string][]string, k *KPIs) {
	add := func(kind, id string, users []string) {
		slices.Sort(users)
		k.Reuse.Assets = append(k.Reuse.Assets, SharedAsset{Kind: kind, ID: id, Tenants: append([]string{}, users...)})
	}
	for _, p := range prompts {
		if p.Tenant == "" {
			add("prompt", p.ID, promptTenants[p.ID])
		}
	}
	if policies, err := s.guards.List(ctx); err == nil {
		for _, p := range policies {
			if p.Tenant != "" || p.ID == refID(k.Guardrails.Baseline) {
				continue
			}
			var users []string
			for _, t := range tenants {
				if refID(t.GuardrailPolicy) == p.ID {
					users = append(users, t.ID)
				}
			}
			add("guardrail-policy", p.ID, users)
		}
	}
	for _, id := range sortedKeys(toolTenants) {
		add("tool-server", id, toolTenants[id])
	}
	for _, id := range sortedKeys(modelTenants) {
		add("model", id, modelTenants[id])
	}
	k.Reuse.SharedAssets = len(k.Reuse.Assets)
	for _, a := range k.Reuse.Assets {
		if len(a.Tenants) >= 2 {
			k.Reuse.Reused++
		}
	}
	k.Reuse.Ratio = ratio(k.Reuse.Reused, k.Reuse.SharedAssets)
	if k.Reuse.Assets == nil {
		k.Reuse.Assets = []SharedAsset{}
	}
}

// modelNames maps every model ID and alias to its model ID.
func modelNames(models []registry.Model) map[string]string {
	out := map[string]string{}
	for _, m := range models {
		out[m.ID] = m.ID
		for _, a := range m.Aliases {
			out[a] = m.ID
		}
	}
	return out
}

func count[S ~string](c *CatalogKPIs, status string, approved, pending, rejected S) {
	switch status {
	case string(approved):
		c.Approved++
	case string(pending):
		c.PendingReview++
	case string(rejected):
		c.Rejected++
	}
}

func refID(ref string) string {
	if ref == "" {
		return ""
	}
	id, _, err := guardrail.ParsePolicyRef(ref)
	if err != nil {
		return ref
	}
	return id
}

func appendOnce(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return round2(float64(n) / float64(d))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return round2((v[len(v)/2-1] + v[len(v)/2]) / 2)
}

func round(v float64) float64  { return float64(int64(v*1e6+0.5)) / 1e6 }
func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
