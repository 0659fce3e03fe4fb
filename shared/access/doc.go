// Package access is the platform's one authorization policy. Every route of the admin
// API (/admin/...) and of the tenant API (/v1/..., /mcp) has a Rule: which roles may call
// it, which scopes the credential needs (any of them), and where the request names the
// tenant it is about. Decide is the one function that judges a caller against a rule;
// Middleware applies it in front of a ServeMux, finding the tenant of each request (a
// path parameter, the tenant query parameter, the JSON body's "tenant", or the owner of
// the resource the path names) before the handler runs.
//
// The roles (see auth.Role):
//
//   - platform-admin: everything.
//   - auditor: reads; a platform auditor (a platform key or IAM mapping) reads every
//     tenant, a tenant's auditor its own tenant, the audit trail included.
//   - tenant-admin: manages its own tenant's keys (within the tenant's key policy),
//     knowledge bases, evaluation suites, prompts, review queues and guardrail policies,
//     and calls models, retrieval and tools like a developer.
//   - developer: calls models, guardrails, retrieval and tools; reads its tenant's
//     configuration when its key has the admin-read scope.
//   - viewer: reads its tenant's configuration and usage; calls nothing.
//
// A tenant's principal that names another tenant gets 403; a route without a rule is
// open to platform admins only. Routes() lists every rule, and the README's access table
// and the OpenAPI document's x-plinth-access extensions are checked against it.
package access
