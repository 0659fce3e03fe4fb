package kpi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/kpi"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/toolhub"
	"github.com/plinth-ai/plinth/shared/usage"
)

var day0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// evals is a fixed set of suites and runs.
type evals struct {
	suites []eval.Suite
	runs   map[string][]eval.Run
}

func (e *evals) ListSuites(context.Context, string) ([]eval.Suite, error) { return e.suites, nil }
func (e *evals) ListRuns(_ context.Context, _, id string, _ int) ([]eval.Run, error) {
	return e.runs[id], nil
}

type tools struct {
	servers []toolhub.Server
	grants  map[string][]toolhub.Grant
}

func (t *tools) List(context.Context) ([]toolhub.Server, error) { return t.servers, nil }
func (t *tools) Grants(_ context.Context, id string) ([]toolhub.Grant, error) {
	return t.grants[id], nil
}

// platform is a small platform's records: real tenants, registry, usage ledger and
// guardrail repository on one store; evaluations and tools as fixed lists.
type platform struct {
	t      *testing.T
	now    time.Time
	tn     *tenant.Service
	reg    *registry.Service
	led    *usage.Ledger
	use    *usage.Service
	guards *guardrail.Repository
	ev     *evals
	tl     *tools
	seq    int
}

func newPlatform(t *testing.T) *platform {
	p := &platform{t: t, now: day0}
	clock := func() time.Time { return p.now }
	// The store judges the usage records' expiry by the story's clock, not today's date.
	st := memstore.New(memstore.WithClock(clock))
	p.tn = tenant.NewService(st, tenant.WithClock(clock))
	p.reg = registry.NewService(st, registry.WithClock(clock))
	if err := p.reg.SeedBuiltins(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The story below starts from two approved builtins (local-chat, local-embed) and
	// approves a third; local-tune, the fine-tuning base, is retired so it does not count.
	for _, d := range []string{"deprecate", "retire"} {
		if _, err := p.reg.Review(context.Background(), "local-tune", d, "admin", ""); err != nil {
			t.Fatal(err)
		}
	}
	p.led = usage.NewLedger(st, 0)
	p.use = usage.NewService(st, p.tn)
	p.guards = guardrail.NewRepository(st, guardrail.WithRepoClock(clock))
	p.ev = &evals{runs: map[string][]eval.Run{}}
	p.tl = &tools{grants: map[string][]toolhub.Grant{}}
	return p
}

func (p *platform) tenant(id string, role auth.Role) {
	ctx := context.Background()
	if _, err := p.tn.CreateTenant(ctx, tenant.Tenant{ID: id}); err != nil {
		p.t.Fatal(err)
	}
	if role != "" {
		if _, _, err := p.tn.CreateKey(ctx, id, tenant.KeyOptions{Role: role}); err != nil {
			p.t.Fatal(err)
		}
	}
}

// calls records n successful requests of a tenant's key after d days.
func (p *platform) calls(tenantID, key, model string, n int, cost float64, guarded bool, d float64) {
	var recs []usage.Record
	for i := 0; i < n; i++ {
		p.seq++
		recs = append(recs, usage.Record{RequestID: "r" + strings.Repeat("x", p.seq%3) + string(rune('a'+p.seq%26)) + time.Duration(p.seq).String(),
			Tenant: tenantID, KeyID: key, Model: model, CostUSD: cost, Guarded: guarded, Status: usage.StatusOK,
			Time: day0.Add(time.Duration(d * 24 * float64(time.Hour))).Add(time.Duration(i) * time.Second)})
	}
	if err := p.led.Write(context.Background(), recs); err != nil {
		p.t.Fatal(err)
	}
}

func (p *platform) report() *kpi.Report {
	p.t.Helper()
	svc := kpi.NewService(p.tn, p.reg, p.use, p.guards, kpi.WithEvaluations(p.ev), kpi.WithTools(p.tl), kpi.WithClock(func() time.Time { return p.now }))
	rep, err := svc.Compute(context.Background(), usage.Range{Start: day0.Truncate(24 * time.Hour), End: p.now.Truncate(24 * time.Hour)})
	if err != nil {
		p.t.Fatal(err)
	}
	return rep
}

func missing(rep *kpi.Report, id string) bool { return slices.Contains(rep.Criteria.Missing, id) }

func TestStagesFollowTheRecords(t *testing.T) {
	p := newPlatform(t)
	ctx := context.Background()

	rep := p.report()
	if rep.Stage != kpi.StageEmerging || !missing(rep, "emerging.tenants.onboarded") || rep.Stages[0].Met {
		t.Fatalf("an empty platform: stage %s, missing %v", rep.Stage, rep.Criteria.Missing)
	}
	if rep.KPIs.Onboarding.MedianDaysToFirstCall != -1 || rep.KPIs.Models.Approved != 2 {
		t.Fatalf("empty platform KPIs: %+v", rep.KPIs)
	}

	// Three tenants, onboarded on day 0; two call within days, one only through the
	// platform's own evaluation.
	p.tenant("acme", auth.RoleTenantAdmin)
	p.tenant("globex", "")
	p.tenant("initech", "")
	p.now = day0.AddDate(0, 0, 10)
	p.calls("acme", "key_shop", "local-chat", 4, 0.25, true, 1)
	p.calls("acme", "key_bot", "local-chat", 2, 0.5, false, 2)
	p.calls("globex", "key_g", "local-chat", 4, 1, true, 3)
	p.calls("initech", "platform:evaluation", "local-chat", 2, 0.5, true, 4)
	rep = p.report()
	k := rep.KPIs
	if k.Tenants.Onboarded != 3 || k.Tenants.InProduction != 2 || k.UseCases.InProduction != 3 || k.UseCases.Registered != 1 {
		t.Fatalf("tenants %+v use cases %+v", k.Tenants, k.UseCases)
	}
	if k.Guardrails.Requests != 12 || k.Guardrails.Guarded != 10 || k.Guardrails.Share != 0.83 {
		t.Fatalf("guardrails %+v", k.Guardrails)
	}
	if k.Cost.TotalUSD != 7 || k.Cost.AttributedShare != 0.86 || k.Cost.PerUseCase[0].KeyID != "key_g" || k.Cost.PerUseCase[0].CostUSD != 4 ||
		k.Cost.PerTenant[0].Tenant != "globex" || len(k.Cost.PerUseCase) != 3 {
		t.Fatalf("cost %+v", k.Cost)
	}
	if k.Onboarding.MedianDaysToFirstCall != 2 || k.Administration.TenantsWithAdmin != 1 {
		t.Fatalf("onboarding %+v administration %+v", k.Onboarding, k.Administration)
	}
	if rep.Stage != kpi.StageEmerging || !missing(rep, "advanced.models.approved") || !missing(rep, "advanced.evaluation.scheduled_suites") ||
		missing(rep, "advanced.guardrails.share") || missing(rep, "advanced.use_cases.in_production") {
		t.Fatalf("stage %s; missing %v", rep.Stage, rep.Criteria.Missing)
	}

	// A third approved model and a scheduled suite with a baseline run: advanced.
	if _, err := p.reg.Create(ctx, registry.Model{ID: "gpt-x", Kind: registry.KindChat, Deployments: []registry.Deployment{{Provider: "openai", BaseURL: "http://upstream.invalid/v1", Model: "x"}}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.reg.Review(ctx, "gpt-x", "approve", "admin", ""); err != nil {
		t.Fatal(err)
	}
	p.ev.suites = []eval.Suite{{Tenant: "acme", ID: "qa", Schedule: "rate(1 day)", Target: eval.TargetSpec{Model: "local-chat"}}}
	p.ev.runs["qa"] = []eval.Run{{ID: "run1", Tenant: "acme", Status: eval.StatusSucceeded, StartedAt: day0.AddDate(0, 0, 5)},
		{ID: "run2", Tenant: "acme", Status: eval.StatusSucceeded, StartedAt: day0.AddDate(0, 0, 6), Regressions: []eval.Regression{{Metric: "f1", Baseline: 80, Current: 60}}}}
	rep = p.report()
	if rep.Stage != kpi.StageAdvanced || rep.NextStage != kpi.StageMature {
		t.Fatalf("stage %s next %s; missing %v", rep.Stage, rep.NextStage, rep.Criteria.Missing)
	}
	if e := rep.KPIs.Evaluation; e.ModelsInUse != 1 || e.ModelsCovered != 1 || e.ModelCoverage != 1 || e.RegressionsCaught != 1 {
		t.Fatalf("evaluation %+v", e)
	}
	for _, id := range []string{"mature.tenants.onboarded", "mature.guardrails.baseline", "mature.tools.approved"} {
		if !missing(rep, id) {
			t.Errorf("%s should be missing", id)
		}
	}
	if missing(rep, "mature.onboarding.median_days") || missing(rep, "mature.evaluation.regressions_caught") {
		t.Errorf("onboarding and regressions are met; missing %v", rep.Criteria.Missing)
	}

	// A shared policy two tenants use, a baseline, an approved tool granted to two tenants.
	if _, err := p.guards.Create(ctx, guardrail.Policy{ID: "pii", Name: "pii", WordPolicyConfig: &guardrail.WordPolicyConfig{WordsConfig: []guardrail.WordConfig{{Text: "secret"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.guards.SetBaseline(ctx, "pii", "admin"); err != nil {
		t.Fatal(err)
	}
	p.tl.servers = []toolhub.Server{{ID: "search", Status: toolhub.StatusApproved}, {ID: "crm", Status: toolhub.StatusPendingReview}}
	p.tl.grants["acme"] = []toolhub.Grant{{Server: "search", Tenant: "acme"}}
	p.tl.grants["globex"] = []toolhub.Grant{{Server: "search", Tenant: "globex"}}
	rep = p.report()
	if rep.KPIs.Tools.Approved != 1 || rep.KPIs.Tools.PendingReview != 1 || rep.KPIs.Tools.InUse != 1 || rep.KPIs.Guardrails.Baseline != "pii" {
		t.Fatalf("tools %+v guardrails %+v", rep.KPIs.Tools, rep.KPIs.Guardrails)
	}
	// The model local-chat (used by three tenants) and the tool server are reused.
	if rep.KPIs.Reuse.Reused != 2 {
		t.Fatalf("reuse %+v", rep.KPIs.Reuse)
	}
	if missing(rep, "mature.tools.approved") || missing(rep, "mature.reuse.reused") || missing(rep, "mature.guardrails.baseline") {
		t.Fatalf("missing %v", rep.Criteria.Missing)
	}
	if rep.Stage != kpi.StageAdvanced || !missing(rep, "mature.tenants.onboarded") || !missing(rep, "mature.guardrails.share") {
		t.Fatalf("stage %s; missing %v", rep.Stage, rep.Criteria.Missing)
	}

	var buf bytes.Buffer
	if err := kpi.WriteCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{}
	for _, r := range rows {
		found[r[0]+"/"+r[1]] = r
	}
	if found["stage/stage"][2] != "advanced" || found["kpi/guardrails.share"][2] != "0.83" ||
		found["criterion/mature.tenants.onboarded"][4] != "false" || found["cost_use_case/globex/key_g"][2] != "4" {
		t.Fatalf("csv rows: %v", rows)
	}
}
