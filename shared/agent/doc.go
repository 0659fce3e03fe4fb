// Package agent holds registered agents and the runtime that runs them.
//
// An agent definition names a model (or alias), instructions, the hub tools and other
// agents it may call, a step limit, a budget and the tools whose calls wait for a human's
// approval. Definitions are versioned like prompt templates: every save is a new,
// immutable version, and a run records the version it ran.
//
// The runtime runs the loop: a model step through the gateway service (so the tenant's
// model policy, quotas, guardrails and usage apply), then the step's tool calls in
// parallel through the tool hub (its policy, rate limits, caps, guardrails and records),
// and again until the model answers without calling a tool, a limit is reached, or a call
// needs what only the caller can give: a function the client executes, or an approval.
// Tool failures go back to the model as tool results, never as errors of the run. Repeated
// identical calls are answered from the first call's outcome with a warning instead of
// being made again. Agents may call other agents as tools, each with its own budget; the
// run records the tree of steps, tool calls, tokens and cost.
//
// Runs are served as OpenAI's Responses API (/v1/responses), so the OpenAI SDKs'
// responses.create works unchanged.
package agent
