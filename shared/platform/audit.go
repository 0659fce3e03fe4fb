package platform

import (
	"net/http"
	"sync"

	"github.com/plinth-ai/plinth/shared/audit"
)

var (
	auditOpsOnce sync.Once
	auditOps     *audit.Operations
)

// auditOperations names audit events after the OpenAPI document's operationIds.
func auditOperations() *audit.Operations {
	auditOpsOnce.Do(func() {
		ops, err := audit.NewOperations(OpenAPI())
		if err != nil {
			panic(err) // the embedded document is checked by the package's tests
		}
		auditOps = ops
	})
	return auditOps
}

// auditTrail records an audit event for every change made through mux and every tenant
// data operation (uploads, deletes, retrieval, answers, guardrail checks), and for reads
// of the audit trail itself. Chat completions and embeddings are left to the usage
// ledger, which records every one of them. It runs after authentication and before the
// scope check, so refusals are recorded too.
func auditTrail(rec audit.Recorder, mux *http.ServeMux, next http.Handler) http.Handler {
	return audit.Middleware(rec, mux, audit.WithOperations(auditOperations()),
		audit.Skip("createChatCompletion", "createEmbedding", "createResponse"),
		audit.Include("listAuditEvents"))(next)
}
