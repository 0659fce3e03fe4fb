package audit_test

import (
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/audit"
)

func TestOperationsReadFromFragments(t *testing.T) {
	ops, err := audit.NewOperations(
		[]byte(`{"paths":{"/admin/tenants":{"parameters":[{"name":"x","in":"query"}],"summary":"Tenants","post":{"operationId":"createTenant","requestBody":{"content":{"application/json":{"schema":{"operationId":"notAnOperation"}}}}}}}}`),
		[]byte(`{"paths":{"/admin/models/{id}/review":{"post":{"x-plinth-route":"POST /admin/models/{id...}","operationId":"reviewRegistryModel"}},"/admin/keys/{key}":{"delete":{"operationId":"revokeKey"},"get":{"description":"no operationId"}}}}`),
	)
	if err != nil {
		t.Fatal(err)
	}
	for pattern, want := range map[string]string{
		"POST /admin/tenants":            "createTenant",
		"POST /admin/models/{model...}":  "reviewRegistryModel",
		"POST /admin/models/{id}/review": "",
		"DELETE /admin/keys/{id}":        "revokeKey",
		"GET /admin/keys/{id}":           "",
		"PARAMETERS /admin/tenants":      "",
		"SUMMARY /admin/tenants":         "",
		"GET /admin/tenants":             "",
	} {
		if got := ops.Name(pattern); got != want {
			t.Errorf("Name(%q) = %q, want %q", pattern, got, want)
		}
	}
	if _, err := audit.NewOperations([]byte(`{"paths":`)); err == nil || !strings.Contains(err.Error(), "OpenAPI") {
		t.Errorf("truncated document: err = %v, want a read error", err)
	}
}
