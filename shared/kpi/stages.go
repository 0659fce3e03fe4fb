package kpi

// criterion is one stage condition over the KPIs.
type criterion struct {
	stage       Stage
	id          string
	description string
	target      float64
	atMost      bool
	value       func(k *KPIs) float64
}

func n(v int) float64 { return float64(v) }

// onboardingDays is the median time to a first call, or +Inf-like when no tenant has
// called yet (no criterion on it can be met).
func onboardingDays(k *KPIs) float64 {
	if k.Onboarding.MedianDaysToFirstCall < 0 {
		return 1e9
	}
	return k.Onboarding.MedianDaysToFirstCall
}

// promptCoverage is the share of prompts covered, 1 when there are none to cover.
func promptCoverage(k *KPIs) float64 {
	if k.Evaluation.Prompts == 0 {
		return 1
	}
	return k.Evaluation.PromptCoverage
}

func boolean(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// criteria are the maturity model: every stage needs its own criteria and all earlier
// stages'. The thresholds follow the usual progression of an internal AI platform: one
// team in production, then several teams with guardrails and evaluations, then most
// traffic guarded and evaluated with shared assets and delegated administration, then
// the platform as the default way every team ships.
var criteria = []criterion{
	{StageEmerging, "tenants.onboarded", "at least one tenant is onboarded", 1, false, func(k *KPIs) float64 { return n(k.Tenants.Onboarded) }},
	{StageEmerging, "models.approved", "at least one model is approved", 1, false, func(k *KPIs) float64 { return n(k.Models.Approved) }},
	{StageEmerging, "tenants.in_production", "at least one tenant made a production call in the window", 1, false, func(k *KPIs) float64 { return n(k.Tenants.InProduction) }},

	{StageAdvanced, "tenants.onboarded", "at least 3 tenants are onboarded", 3, false, func(k *KPIs) float64 { return n(k.Tenants.Onboarded) }},
	{StageAdvanced, "use_cases.in_production", "at least 3 use cases are in production", 3, false, func(k *KPIs) float64 { return n(k.UseCases.InProduction) }},
	{StageAdvanced, "models.approved", "at least 3 models are approved", 3, false, func(k *KPIs) float64 { return n(k.Models.Approved) }},
	{StageAdvanced, "guardrails.share", "at least half of the traffic is under guardrails", 0.5, false, func(k *KPIs) float64 { return k.Guardrails.Share }},
	{StageAdvanced, "evaluation.scheduled_suites", "at least one evaluation suite runs on a schedule", 1, false, func(k *KPIs) float64 { return n(k.Evaluation.ScheduledSuites) }},
	{StageAdvanced, "cost.attributed_share", "at least 80% of spend is attributed to tenants' use cases", 0.8, false, func(k *KPIs) float64 { return k.Cost.AttributedShare }},

	{StageMature, "tenants.onboarded", "at least 5 tenants are onboarded", 5, false, func(k *KPIs) float64 { return n(k.Tenants.Onboarded) }},
	{StageMature, "use_cases.in_production", "at least 10 use cases are in production", 10, false, func(k *KPIs) float64 { return n(k.UseCases.InProduction) }},
	{StageMature, "guardrails.share", "at least 90% of the traffic is under guardrails", 0.9, false, func(k *KPIs) float64 { return k.Guardrails.Share }},
	{StageMature, "guardrails.baseline", "a platform guardrail baseline applies to every tenant", 1, false, func(k *KPIs) float64 { return boolean(k.Guardrails.Baseline != "") }},
	{StageMature, "evaluation.model_coverage", "at least half of the models in use have scheduled suites with baselines", 0.5, false, func(k *KPIs) float64 { return k.Evaluation.ModelCoverage }},
	{StageMature, "evaluation.prompt_coverage", "at least half of the prompts have scheduled suites with baselines", 0.5, false, promptCoverage},
	{StageMature, "evaluation.regressions_caught", "evaluations caught at least one regression in the window", 1, false, func(k *KPIs) float64 { return n(k.Evaluation.RegressionsCaught) }},
	{StageMature, "tools.approved", "at least one tool server is approved", 1, false, func(k *KPIs) float64 { return n(k.Tools.Approved) }},
	{StageMature, "reuse.reused", "at least one shared asset is used by two tenants or more", 1, false, func(k *KPIs) float64 { return n(k.Reuse.Reused) }},
	{StageMature, "onboarding.median_days", "tenants reach production within 14 days (median)", 14, true, onboardingDays},
	{StageMature, "administration.tenants_with_admin", "at least one tenant administers itself", 1, false, func(k *KPIs) float64 { return n(k.Administration.TenantsWithAdmin) }},

	{StageEstablished, "tenants.onboarded", "at least 10 tenants are onboarded", 10, false, func(k *KPIs) float64 { return n(k.Tenants.Onboarded) }},
	{StageEstablished, "use_cases.in_production", "at least 25 use cases are in production", 25, false, func(k *KPIs) float64 { return n(k.UseCases.InProduction) }},
	{StageEstablished, "guardrails.share", "at least 99% of the traffic is under guardrails", 0.99, false, func(k *KPIs) float64 { return k.Guardrails.Share }},
	{StageEstablished, "evaluation.model_coverage", "at least 80% of the models in use have scheduled suites with baselines", 0.8, false, func(k *KPIs) float64 { return k.Evaluation.ModelCoverage }},
	{StageEstablished, "evaluation.prompt_coverage", "at least 80% of the prompts have scheduled suites with baselines", 0.8, false, promptCoverage},
	{StageEstablished, "reuse.ratio", "at least half of the shared assets are used by two tenants or more", 0.5, false, func(k *KPIs) float64 { return k.Reuse.Ratio }},
	{StageEstablished, "onboarding.median_days", "tenants reach production within 2 days (median)", 2, true, onboardingDays},
	{StageEstablished, "administration.delegated_share", "at least half of the active tenants administer themselves", 0.5, false, func(k *KPIs) float64 { return k.Administration.DelegatedShare }},
	{StageEstablished, "cost.attributed_share", "at least 95% of spend is attributed to tenants' use cases", 0.95, false, func(k *KPIs) float64 { return k.Cost.AttributedShare }},
}

// assess fills the report's stages, stage, next stage and criteria summary.
func assess(rep *Report) {
	rep.Criteria = Summary{Met: []string{}, Missing: []string{}}
	rep.Stage, rep.NextStage = StageEmerging, StageAdvanced
	reached := true
	for i, st := range Stages {
		lvl := Level{Stage: st, Met: true}
		for _, c := range criteria {
			if c.stage != st {
				continue
			}
			v := c.value(&rep.KPIs)
			met := v >= c.target
			if c.atMost {
				met = v <= c.target
			}
			if v >= 1e9 {
				v = -1 // "never": no tenant has called yet
			}
			lvl.Criteria = append(lvl.Criteria, Criterion{ID: string(st) + "." + c.id, Description: c.description, Value: v, Target: c.target, AtMost: c.atMost, Met: met})
			lvl.Met = lvl.Met && met
			id := string(st) + "." + c.id
			if met {
				rep.Criteria.Met = append(rep.Criteria.Met, id)
			} else {
				rep.Criteria.Missing = append(rep.Criteria.Missing, id)
			}
		}
		rep.Stages = append(rep.Stages, lvl)
		reached = reached && lvl.Met
		if reached {
			rep.Stage = st
			rep.NextStage = ""
			if i+1 < len(Stages) {
				rep.NextStage = Stages[i+1]
			}
		}
	}
}
