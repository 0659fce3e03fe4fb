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

// Two operations served by one route name it the same way whatever order they are read in:
// the one documented at the route's own path first, else the smaller operationId.
func TestOperationsSharingARouteAreNamedDeterministically(t *testing.T) {
	own := []byte(`{"paths":{"/runs/{id}":{"get":{"operationId":"getRun"}}}}`)
	routed := []byte(`{"paths":{"/runs/{id}.csv":{"get":{"operationId":"aGetRunCSV","x-plinth-route":"GET /runs/{id}"}}}}`)
	twins := []byte(`{"paths":{"/x/{a}":{"get":{"operationId":"zeta"}},"/x/{b}":{"get":{"operationId":"alpha"}}}}`)
	for range 20 {
		for _, docs := range [][][]byte{{own, routed}, {routed, own}} {
			ops, err := audit.NewOperations(append(docs, twins)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := ops.Name("GET /runs/{id}"); got != "getRun" {
				t.Fatalf("GET /runs/{id} is named %q, want getRun", got)
			}
			if got := ops.Name("GET /x/{id}"); got != "alpha" {
				t.Fatalf("GET /x/{id} is named %q, want alpha", got)
			}
		}
	}
}
