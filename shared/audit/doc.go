// Package audit keeps the platform's audit trail: an append-only log of who did what,
// when, from where, with which outcome, for every admin action (tenants, keys, models and
// reviews, guardrail policies, knowledge bases, evaluation suites and schedules) and every
// tenant data operation (document upload and delete, retrieval, answers, guardrail
// checks).
//
// What the platform does on its own (flows started and ended, documents ingested,
// scheduled evaluation runs, fine-tuning jobs' status changes, agent runs parked for
// approval) is recorded with ActorPlatform as the actor by the composition root.
//
// An Event never holds secrets or prompt text: only identifiers (tenant, actor, resource,
// request ID), the operation's name, the caller's address and the outcome.
//
// The pieces:
//   - Log is the port: Append (never overwrites) and Query (by tenant, actor, action and
//     time, newest first). storelog implements it on the store port (the embedded store
//     locally, DynamoDB in AWS); audittest holds its contract suite.
//   - Recorder is what code that performs actions calls; Writer is the Recorder the
//     composition root wires: it appends in the background with retries and never drops
//     an event silently.
//   - Middleware records one event per audited HTTP request, naming it after the route's
//     OpenAPI operationId (Operations), so every documented route is covered without the
//     handlers knowing. Handlers (or services) may add what only they know with
//     SetTenant, SetResource and SetDetail.
//   - Routes serves GET /admin/audit.
package audit
