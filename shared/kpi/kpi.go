package kpi

import "time"

// Stage is a maturity stage.
type Stage string

// The stages, in order.
const (
	StageEmerging    Stage = "emerging"
	StageAdvanced    Stage = "advanced"
	StageMature      Stage = "mature"
	StageEstablished Stage = "established"
)

// Stages lists the stages in order.
var Stages = []Stage{StageEmerging, StageAdvanced, StageMature, StageEstablished}

// Report is the answer of GET /admin/kpis.
type Report struct {
	Object      string    `json:"object"`
	GeneratedAt time.Time `json:"generated_at"`
	// Start and End bound the window of traffic-based KPIs (inclusive UTC days).
	Start string `json:"start"`
	End   string `json:"end"`
	// Stage is the highest stage whose criteria, and every earlier stage's, are all met
	// (emerging when even its own are not).
	Stage Stage `json:"stage"`
	// NextStage is the stage after Stage ("" at established); Criteria.Missing says what
	// it still needs.
	NextStage Stage   `json:"next_stage,omitempty"`
	KPIs      KPIs    `json:"kpis"`
	Stages    []Level `json:"stages"`
	// Criteria are the IDs of every criterion, met and missing, over all stages.
	Criteria Summary `json:"criteria"`
}

// Summary lists criterion IDs by outcome.
type Summary struct {
	Met     []string `json:"met"`
	Missing []string `json:"missing"`
}

// Level is one stage's assessment.
type Level struct {
	Stage    Stage       `json:"stage"`
	Met      bool        `json:"met"`
	Criteria []Criterion `json:"criteria"`
}

// Criterion is one condition of a stage: a KPI against a target.
type Criterion struct {
	ID          string  `json:"id"`
	Description string  `json:"description"`
	Value       float64 `json:"value"`
	Target      float64 `json:"target"`
	// AtMost is set when the value must stay at or below the target (times); otherwise it
	// must reach it.
	AtMost bool `json:"at_most,omitempty"`
	Met    bool `json:"met"`
}

// KPIs are the indicators.
type KPIs struct {
	Tenants        TenantKPIs     `json:"tenants"`
	UseCases       UseCaseKPIs    `json:"use_cases"`
	Models         CatalogKPIs    `json:"models"`
	Tools          CatalogKPIs    `json:"tools"`
	Guardrails     GuardrailKPIs  `json:"guardrails"`
	Evaluation     EvaluationKPIs `json:"evaluation"`
	Reuse          ReuseKPIs      `json:"reuse"`
	Cost           CostKPIs       `json:"cost"`
	Onboarding     OnboardingKPIs `json:"onboarding"`
	Administration AdminKPIs      `json:"administration"`
}

// TenantKPIs count tenants.
type TenantKPIs struct {
	// Onboarded counts every tenant; Active those not suspended; InProduction those with a
	// production call in the window; Silo those on the silo isolation tier.
	Onboarded    int `json:"onboarded"`
	Active       int `json:"active"`
	InProduction int `json:"in_production"`
	Silo         int `json:"silo"`
}

// UseCaseKPIs count applications.
type UseCaseKPIs struct {
	// InProduction counts keys and IAM principals with a successful call in the window;
	// Registered the active (unrevoked, unexpired) keys and IAM principals able to call.
	InProduction int `json:"in_production"`
	Registered   int `json:"registered"`
}

// CatalogKPIs count a reviewed catalog's entries.
type CatalogKPIs struct {
	Approved      int `json:"approved"`
	PendingReview int `json:"pending_review"`
	Rejected      int `json:"rejected"`
	// InUse counts approved models called in the window (models), or tool servers granted
	// to at least one tenant (tools).
	InUse int `json:"in_use"`
}

// GuardrailKPIs describe how much traffic guardrails judge.
type GuardrailKPIs struct {
	Requests int64 `json:"requests"`
	Guarded  int64 `json:"guarded_requests"`
	// Share is Guarded/Requests (1 when there was no traffic and a baseline is set).
	Share float64 `json:"share"`
	// Baseline is the platform's guardrail floor ("" when none).
	Baseline string `json:"baseline"`
	// TenantsWithPolicy counts tenants assigned a policy of their own.
	TenantsWithPolicy int `json:"tenants_with_policy"`
}

// EvaluationKPIs describe evaluation coverage: a model or prompt is covered when a
// scheduled suite targets it and has a succeeded run to compare the next one with.
type EvaluationKPIs struct {
	Suites          int     `json:"suites"`
	ScheduledSuites int     `json:"scheduled_suites"`
	ModelsInUse     int     `json:"models_in_use"`
	ModelsCovered   int     `json:"models_covered"`
	ModelCoverage   float64 `json:"model_coverage"`
	Prompts         int     `json:"prompts"`
	PromptsCovered  int     `json:"prompts_covered"`
	PromptCoverage  float64 `json:"prompt_coverage"`
	// RegressionsCaught counts runs in the window that found a regression against their
	// baseline.
	RegressionsCaught int `json:"regressions_caught"`
}

// ReuseKPIs describe sharing across tenants: platform-shared prompts and guardrail
// policies, tool servers and models, each used by how many tenants.
type ReuseKPIs struct {
	SharedAssets int `json:"shared_assets"`
	// Reused counts shared assets used by two tenants or more; Ratio is Reused/SharedAssets.
	Reused int           `json:"reused"`
	Ratio  float64       `json:"ratio"`
	Assets []SharedAsset `json:"assets"`
}

// SharedAsset is one asset several tenants may use.
type SharedAsset struct {
	Kind    string   `json:"kind"` // prompt, guardrail-policy, tool-server, model
	ID      string   `json:"id"`
	Tenants []string `json:"tenants"`
}

// CostKPIs attribute spend in the window.
type CostKPIs struct {
	TotalUSD float64 `json:"total_usd"`
	// AttributedShare is the share of spend carried by a tenant's own applications (the
	// rest is the platform's callers acting for tenants: evaluation, ingestion, answers).
	AttributedShare float64       `json:"attributed_share"`
	PerTenant       []TenantCost  `json:"per_tenant"`
	PerUseCase      []UseCaseCost `json:"per_use_case"`
	PerTenantAvgUSD float64       `json:"per_tenant_avg_usd"`
	PerUseCaseAvg   float64       `json:"per_use_case_avg_usd"`
}

// TenantCost is one tenant's spend.
type TenantCost struct {
	Tenant   string  `json:"tenant"`
	Requests int64   `json:"requests"`
	CostUSD  float64 `json:"cost_usd"`
}

// UseCaseCost is one application's spend.
type UseCaseCost struct {
	Tenant   string  `json:"tenant"`
	KeyID    string  `json:"key_id"`
	Name     string  `json:"name,omitempty"`
	Requests int64   `json:"requests"`
	CostUSD  float64 `json:"cost_usd"`
}

// OnboardingKPIs describe how fast tenants reach production.
type OnboardingKPIs struct {
	// MedianDaysToFirstCall is over tenants that made a production call (-1 when none has).
	MedianDaysToFirstCall float64         `json:"median_days_to_first_call"`
	Tenants               []TenantOnboard `json:"tenants"`
}

// TenantOnboard is one tenant's path to production.
type TenantOnboard struct {
	Tenant      string     `json:"tenant"`
	OnboardedAt time.Time  `json:"onboarded_at"`
	FirstCallAt *time.Time `json:"first_call_at,omitempty"`
	// Days from onboarding to the first production call (absent until it happens).
	Days *float64 `json:"days,omitempty"`
}

// AdminKPIs describe federated administration.
type AdminKPIs struct {
	// TenantsWithAdmin counts tenants with an active tenant-admin key or IAM principal.
	TenantsWithAdmin int `json:"tenants_with_admin"`
	// DelegatedShare is TenantsWithAdmin over active tenants.
	DelegatedShare float64 `json:"delegated_share"`
}
