package platform

import (
	"io/fs"
	"net/http"
	"sync"

	"github.com/plinth-ai/plinth/shared/audit"
)

var (
	auditOpsOnce sync.Once
	auditOps     *audit.Operations
)

// auditOperations names audit events after the OpenAPI document's operationIds. It reads
// the operations straight from the fragments rather than from the merged document:
// merging and encoding the whole document costs a tenth of a second and several
// megabytes at start-up, for names the fragments already hold (the package's tests check
// that both give the same names and that no fragment repeats another's path).
func auditOperations() *audit.Operations {
	auditOpsOnce.Do(func() {
		ops, err := fragmentOperations(openAPIFragments)
		if err != nil {
			panic(err) // the embedded fragments are checked by the package's tests
		}
		auditOps = ops
	})
	return auditOps
}

// fragmentOperations reads the operation names of every OpenAPI fragment of fsys.
func fragmentOperations(fsys fs.FS) (*audit.Operations, error) {
	names, err := fs.Glob(fsys, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	docs := make([][]byte, 0, len(names))
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		docs = append(docs, raw)
	}
	return audit.NewOperations(docs...)
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
