package kpi

import (
	"context"
	"time"

	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/toolhub"
	"github.com/plinth-ai/plinth/shared/usage"
)

// Tenants are the tenants and their credentials; *tenant.Service implements it.
type Tenants interface {
	ListTenants(ctx context.Context) ([]*tenant.Tenant, error)
	ListKeys(ctx context.Context, tenantID string) ([]*tenant.Key, error)
	ListIAMPrincipals(ctx context.Context, tenantID string) ([]*tenant.IAMPrincipal, error)
}

// Registry is the model catalog and prompt templates; *registry.Service implements it.
type Registry interface {
	List(ctx context.Context) ([]registry.Model, error)
	ListPrompts(ctx context.Context) ([]registry.PromptInfo, error)
}

// Usage answers usage queries; *usage.Service implements it.
type Usage interface {
	Summary(ctx context.Context, tenantID string, r usage.Range, groupBy string) ([]usage.Row, usage.Totals, error)
	ByKey(ctx context.Context, tenantID string, r usage.Range) ([]usage.KeyRow, error)
	FirstCall(ctx context.Context, tenantID string) (time.Time, bool, error)
}

// Guardrails are the stored policies and the baseline; *guardrail.Repository implements it.
type Guardrails interface {
	List(ctx context.Context) ([]guardrail.PolicyInfo, error)
	Baseline(ctx context.Context) (guardrail.Baseline, error)
}

// Evaluations are suites and their runs; *eval.Service implements it.
type Evaluations interface {
	ListSuites(ctx context.Context, tenant string) ([]eval.Suite, error)
	ListRuns(ctx context.Context, tenant, suiteID string, limit int) ([]eval.Run, error)
}

// Tools is the tool catalog and its grants; *toolhub.Service implements it.
type Tools interface {
	List(ctx context.Context) ([]toolhub.Server, error)
	Grants(ctx context.Context, tenantID string) ([]toolhub.Grant, error)
}

// Service computes KPI reports.
type Service struct {
	tenants  Tenants
	registry Registry
	usage    Usage
	guards   Guardrails
	evals    Evaluations
	tools    Tools
	now      func() time.Time
	runs     int
}

// Option configures a Service.
type Option func(*Service)

// WithEvaluations adds evaluation coverage and regressions (without them they count 0).
func WithEvaluations(e Evaluations) Option { return func(s *Service) { s.evals = e } }

// WithTools adds the tool catalog (without it, tools count 0).
func WithTools(t Tools) Option { return func(s *Service) { s.tools = t } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRunsPerSuite bounds the runs read per suite for coverage and regressions (default
// 50, newest first).
func WithRunsPerSuite(n int) Option { return func(s *Service) { s.runs = n } }

// NewService returns a Service; tenants, models, usage and guardrails are required.
func NewService(tenants Tenants, models Registry, u Usage, guards Guardrails, opts ...Option) *Service {
	if tenants == nil || models == nil || u == nil || guards == nil {
		panic("kpi.NewService: nil tenants, registry, usage or guardrails")
	}
	s := &Service{tenants: tenants, registry: models, usage: u, guards: guards, now: time.Now, runs: 50}
	for _, o := range opts {
		o(s)
	}
	return s
}
