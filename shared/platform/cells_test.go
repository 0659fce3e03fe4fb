package platform

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// TestTierCannotChangeInPlace: moving a tenant between the pool and a cell of its own
// would leave its data behind, so a bare change of isolation_tier is refused.
func TestTierCannotChangeInPlace(t *testing.T) {
	c, _ := newAPIClient(t)
	c.mustDo("POST", "/admin/tenants", c.admin, `{"id":"alpha"}`, http.StatusCreated)
	c.mustDo("POST", "/admin/tenants", c.admin, `{"id":"bravo","isolation_tier":"silo"}`, http.StatusCreated)
	c.expectError("PATCH", "/admin/tenants/alpha", c.admin, `{"isolation_tier":"silo"}`, http.StatusBadRequest, httpapi.CodeInvalidRequest, "isolation_tier", "pool", "silo")
	c.expectError("PATCH", "/admin/tenants/bravo", c.admin, `{"isolation_tier":"pool"}`, http.StatusBadRequest, httpapi.CodeInvalidRequest, "isolation_tier")
	// Other changes, and naming the tier the tenant has, are fine.
	c.mustDo("PATCH", "/admin/tenants/bravo", c.admin, `{"isolation_tier":"silo","name":"Bravo"}`, http.StatusOK)
}

func TestExecutionOwner(t *testing.T) {
	for _, c := range []struct{ input, want string }{
		{`{"tenant":"acme","run_id":"r1"}`, "acme"},
		{`{"detail-type":"Object Created","detail":{"object":{"key":"tenants/acme/kb/docs/a.txt"}}}`, "acme"},
		{`{"detail":{"object":{"key":"reports/x.html"}}}`, ""},
		{`{"suite_id":"qa"}`, ""},
		{`not json`, ""},
	} {
		if got := executionOwner("m", json.RawMessage(c.input)); got != c.want {
			t.Errorf("owner of %s = %q, want %q", c.input, got, c.want)
		}
	}
}
