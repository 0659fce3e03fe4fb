package audit_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// memRecorder keeps recorded events in order.
type memRecorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (m *memRecorder) Record(_ context.Context, e audit.Event) {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
}

const testOpenAPI = `{"paths":{
 "/admin/tenants":{"post":{"operationId":"createTenant"},"get":{"operationId":"listTenants"}},
 "/admin/tenants/{id}/keys":{"post":{"operationId":"createKey"}},
 "/admin/keys/{id}":{"delete":{"operationId":"revokeKey"}},
 "/admin/models/{id}/review":{"post":{"operationId":"reviewRegistryModel","x-plinth-route":"POST /admin/models/{id...}"}},
 "/admin/knowledge-bases":{"post":{"operationId":"createKnowledgeBase"}},
 "/admin/audit":{"get":{"operationId":"listAuditEvents"}},
 "/v1/chat/completions":{"post":{"operationId":"createChatCompletion"}},
 "/v1/knowledge-bases/{kb}/retrieve":{"post":{"operationId":"retrieve"}},
 "parameters":{}
}}`

func TestMiddleware(t *testing.T) {
	ops, err := audit.NewOperations([]byte(testOpenAPI))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/tenants", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			httpapi.WriteError(w, httpapi.BadRequest("", "bad json"))
			return
		}
		httpapi.WriteJSON(w, 201, map[string]any{"id": body["id"]})
	})
	mux.HandleFunc("GET /admin/tenants", func(w http.ResponseWriter, r *http.Request) { httpapi.WriteJSON(w, 200, []string{}) })
	mux.HandleFunc("POST /admin/tenants/{id}/keys", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, 201, map[string]any{"id": "key_7", "key": "pk-SECRET"})
	})
	mux.HandleFunc("DELETE /admin/keys/{id}", func(w http.ResponseWriter, r *http.Request) {
		audit.SetTenant(r.Context(), "acme")
		audit.SetDetail(r.Context(), "reason", "rotation")
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /admin/models/{id...}", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, httpapi.Errorf(404, "model_not_found", "no model"))
	})
	mux.HandleFunc("POST /admin/knowledge-bases", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		httpapi.WriteJSON(w, 201, map[string]any{"id": "docs"})
	})
	mux.HandleFunc("GET /admin/audit", func(w http.ResponseWriter, r *http.Request) { httpapi.WriteJSON(w, 200, []string{}) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("POST /v1/knowledge-bases/{kb}/retrieve", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		httpapi.WriteJSON(w, 200, map[string]any{"results": []string{}})
	})

	rec := &memRecorder{}
	mw := audit.Middleware(rec, mux, audit.WithOperations(ops), audit.Skip("createChatCompletion"), audit.Include("listAuditEvents"),
		audit.WithMiddlewareClock(func() time.Time { return at }))
	admin := auth.Principal{Admin: true, KeyID: "admin"}
	tenantKey := auth.Principal{TenantID: "acme", KeyID: "key_1"}
	iam := auth.Principal{TenantID: "globex", KeyID: "arn:aws:iam::123456789012:role/app"}
	send := func(p *auth.Principal, method, path, body string) int {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.RemoteAddr = "203.0.113.9:4711"
		r.Header.Set("User-Agent", "curl/8")
		ctx := httpapi.WithRequestID(r.Context(), "req_"+method)
		if p != nil {
			ctx = auth.WithPrincipal(ctx, *p)
		}
		w := httptest.NewRecorder()
		mw(mux).ServeHTTP(w, r.WithContext(ctx))
		return w.Code
	}
	send(&admin, "POST", "/admin/tenants", `{"id":"acme","name":"Acme"}`)
	send(&admin, "GET", "/admin/tenants", "")
	send(&admin, "POST", "/admin/tenants/acme/keys", `{}`)
	send(&admin, "DELETE", "/admin/keys/key_7", "")
	send(&admin, "POST", "/admin/models/team/x/review", `{"decision":"approve"}`)
	send(&admin, "POST", "/admin/knowledge-bases", `{"tenant":"globex","id":"docs"}`)
	send(&admin, "GET", "/admin/audit?tenant=acme", "")
	send(&tenantKey, "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"secret prompt"}]}`)
	send(&iam, "POST", "/v1/knowledge-bases/docs/retrieve", `{"query":"parental leave"}`)
	send(nil, "POST", "/v1/unknown", `{}`)

	want := []audit.Event{
		{Action: "createTenant", Tenant: "acme", Actor: "admin", ActorType: audit.ActorAdmin, Resource: "tenants/acme", Method: "POST", Route: "POST /admin/tenants", Outcome: audit.OutcomeSuccess, Status: 201},
		{Action: "createKey", Tenant: "acme", Actor: "admin", ActorType: audit.ActorAdmin, Resource: "tenants/acme/keys/key_7", Method: "POST", Route: "POST /admin/tenants/{id}/keys", Outcome: audit.OutcomeSuccess, Status: 201},
		{Action: "revokeKey", Tenant: "acme", Actor: "admin", ActorType: audit.ActorAdmin, Resource: "keys/key_7", Method: "DELETE", Route: "DELETE /admin/keys/{id}", Outcome: audit.OutcomeSuccess, Status: 204, Details: map[string]string{"reason": "rotation"}},
		{Action: "reviewRegistryModel", Actor: "admin", ActorType: audit.ActorAdmin, Resource: "models/team/x/review", Method: "POST", Route: "POST /admin/models/{id...}", Outcome: audit.OutcomeRejected, Status: 404, ErrorCode: "model_not_found"},
		{Action: "createKnowledgeBase", Tenant: "globex", Actor: "admin", ActorType: audit.ActorAdmin, Resource: "knowledge-bases/docs", Method: "POST", Route: "POST /admin/knowledge-bases", Outcome: audit.OutcomeSuccess, Status: 201},
		{Action: "listAuditEvents", Tenant: "acme", Actor: "admin", ActorType: audit.ActorAdmin, Resource: "audit", Method: "GET", Route: "GET /admin/audit", Outcome: audit.OutcomeSuccess, Status: 200},
		{Action: "retrieve", Tenant: "globex", Actor: iam.KeyID, ActorType: audit.ActorIAM, Resource: "knowledge-bases/docs/retrieve", Method: "POST", Route: "POST /v1/knowledge-bases/{kb}/retrieve", Outcome: audit.OutcomeSuccess, Status: 200},
	}
	if len(rec.events) != len(want) {
		t.Fatalf("recorded %d events, want %d: %+v", len(rec.events), len(want), rec.events)
	}
	for i, got := range rec.events {
		w := want[i]
		w.Time, w.SourceIP, w.UserAgent, w.RequestID = at, "203.0.113.9", "curl/8", "req_"+w.Method
		g, _ := json.Marshal(got)
		e, _ := json.Marshal(w)
		if string(g) != string(e) {
			t.Errorf("event %d:\n got %s\nwant %s", i, g, e)
		}
		if strings.Contains(string(g), "SECRET") || strings.Contains(string(g), "prompt") || strings.Contains(string(g), "parental") {
			t.Errorf("event %d holds a secret or content: %s", i, g)
		}
	}
}
