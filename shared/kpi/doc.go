// Package kpi computes the platform's own key performance indicators from its records
// (tenants and keys, the model and tool catalogs, usage, guardrail policies, evaluation
// suites and runs) and assesses its maturity stage: emerging, advanced, mature or
// established, each stage a list of criteria over the KPIs, met or missing.
//
// A use case is one application of a tenant: an API key or IAM principal that made a
// successful request in the window (the platform's own callers, "platform:…", excluded).
// Traffic-based KPIs (use cases, guardrail share, cost, models in use, regressions) cover
// the report's window; the catalog and onboarding KPIs cover the platform's whole life.
package kpi
