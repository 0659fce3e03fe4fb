package platform

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// TestSuitesAreScopedToTheirTenant: two tenants may each have suite "qa"; ?tenant= says
// whose, and never reaches the other tenant's suite or runs.
func TestSuitesAreScopedToTheirTenant(t *testing.T) {
	c, _ := newAPIClient(t)
	for _, id := range []string{"alpha", "beta"} {
		c.mustDo("POST", "/admin/tenants", c.admin, `{"id":"`+id+`"}`, http.StatusCreated)
		c.mustDo("POST", "/admin/eval-suites", c.admin, suite(id, "qa"), http.StatusCreated)
	}
	var suites struct {
		Data []struct{ Tenant, ID string }
	}
	decode(t, c.mustDo("GET", "/admin/eval-suites?tenant=beta", c.admin, "", http.StatusOK), &suites)
	if len(suites.Data) != 1 || suites.Data[0].Tenant != "beta" {
		t.Fatalf("beta's suites: %+v", suites.Data)
	}
	c.expectError("GET", "/admin/eval-suites/qa", c.admin, "", http.StatusBadRequest, httpapi.CodeTenantRequired, "tenant", "alpha", "beta", "?tenant=")

	var run struct{ ID string }
	decode(t, c.mustDo("POST", "/admin/eval-suites/qa/runs?tenant=alpha", c.admin, "", http.StatusAccepted), &run)
	var got struct{ Tenant string }
	decode(t, c.mustDo("GET", "/admin/eval-runs/"+run.ID+"?tenant=alpha", c.admin, "", http.StatusOK), &got)
	if got.Tenant != "alpha" {
		t.Fatalf("run of alpha's suite belongs to %q", got.Tenant)
	}
	for _, path := range []string{"/admin/eval-runs/" + run.ID, "/admin/eval-runs/" + run.ID + "/report.html", "/admin/eval-runs/" + run.ID + ".csv"} {
		c.expectError("GET", path+"?tenant=beta", c.admin, "", http.StatusNotFound, httpapi.CodeNotFound, "", run.ID)
	}
	var runs struct{ Data []struct{ ID string } }
	decode(t, c.mustDo("GET", "/admin/eval-suites/qa/runs?tenant=beta", c.admin, "", http.StatusOK), &runs)
	if len(runs.Data) != 0 {
		t.Fatalf("beta's suite lists alpha's runs: %+v", runs.Data)
	}
	// A run ID alone still finds the run: IDs are unique across tenants.
	c.mustDo("GET", "/admin/eval-runs/"+run.ID, c.admin, "", http.StatusOK)

	c.mustDo("DELETE", "/admin/eval-suites/qa?tenant=beta", c.admin, "", http.StatusNoContent)
	c.mustDo("GET", "/admin/eval-suites/qa?tenant=alpha", c.admin, "", http.StatusOK)
	// Now one tenant has "qa": the ID alone is enough again.
	c.mustDo("POST", "/admin/eval-suites/qa/runs", c.admin, "", http.StatusAccepted)
	c.expectError("GET", "/admin/eval-suites?tenant=nobody", c.admin, "", http.StatusNotFound, httpapi.CodeNotFound, "tenant", "nobody")
}

// TestKnowledgeBaseAdminRoutesTakeTheTenantAlike: every admin knowledge-base route reads
// ?tenant= the same way, and says the same thing when it is needed.
func TestKnowledgeBaseAdminRoutesTakeTheTenantAlike(t *testing.T) {
	c, _ := newAPIClient(t)
	for _, id := range []string{"alpha", "beta"} {
		c.mustDo("POST", "/admin/tenants", c.admin, `{"id":"`+id+`"}`, http.StatusCreated)
	}
	c.mustDo("POST", "/admin/knowledge-bases", c.admin, `{"tenant":"alpha","id":"docs"}`, http.StatusCreated)
	c.mustDo("POST", "/admin/knowledge-bases", c.admin, `{"tenant":"beta","id":"docs"}`, http.StatusCreated)
	c.mustDo("POST", "/admin/knowledge-bases", c.admin, `{"tenant":"alpha","id":"wiki"}`, http.StatusCreated)

	var all struct{ Data []struct{ Tenant, ID string } }
	decode(t, c.mustDo("GET", "/admin/knowledge-bases", c.admin, "", http.StatusOK), &all)
	if len(all.Data) != 3 {
		t.Fatalf("every tenant's knowledge bases: %+v", all.Data)
	}
	for _, m := range []string{"GET", "DELETE"} {
		c.expectError(m, "/admin/knowledge-bases/docs", c.admin, "", http.StatusBadRequest, httpapi.CodeTenantRequired, "tenant", "alpha", "beta")
		c.expectError(m, "/admin/knowledge-bases/nothing", c.admin, "", http.StatusNotFound, httpapi.CodeNotFound, "", "nothing")
		c.expectError(m, "/admin/knowledge-bases/docs?tenant=nobody", c.admin, "", http.StatusNotFound, httpapi.CodeNotFound, "tenant", "nobody")
	}
	c.mustDo("GET", "/admin/knowledge-bases/wiki", c.admin, "", http.StatusOK)
	out := c.mustDo("DELETE", "/admin/knowledge-bases/docs?tenant=beta", c.admin, "", http.StatusOK)
	if !strings.Contains(out, `"tenant":"beta"`) {
		t.Fatalf("delete answered %s", out)
	}
	c.mustDo("GET", "/admin/knowledge-bases/docs", c.admin, "", http.StatusOK)
}

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}
