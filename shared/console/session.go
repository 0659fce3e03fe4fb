package console

import (
	"net/http"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// Session is who the signed-in credential is, so the console shows only what it may do.
type Session struct {
	// Role is "admin" for platform administrators and "tenant" for a tenant's API key or
	// IAM principal.
	Role   string       `json:"role"`
	Tenant string       `json:"tenant,omitempty"`
	KeyID  string       `json:"key_id"`
	Scopes []auth.Scope `json:"scopes"`
}

// SessionRoutes registers GET /admin/session on admin and GET /v1/session on v1; each
// answers for the credential its prefix's authentication admitted.
func SessionRoutes(admin, v1 *http.ServeMux) {
	AdminSessionRoute(admin)
	TenantSessionRoute(v1)
}

// AdminSessionRoute registers GET /admin/session, for servers of the admin API alone.
func AdminSessionRoute(admin *http.ServeMux) { admin.HandleFunc("GET /admin/session", session) }

// TenantSessionRoute registers GET /v1/session, for servers of the tenant API alone.
func TenantSessionRoute(v1 *http.ServeMux) { v1.HandleFunc("GET /v1/session", session) }

func session(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "no valid credentials were supplied"))
		return
	}
	s := Session{Role: "tenant", Tenant: p.TenantID, KeyID: p.KeyID, Scopes: p.Scopes}
	if p.Admin {
		s.Role = "admin"
		s.Scopes = []auth.Scope{auth.ScopeInference, auth.ScopeRetrieval, auth.ScopeAdminRead}
	}
	if s.Scopes == nil {
		s.Scopes = []auth.Scope{}
	}
	httpapi.WriteJSON(w, http.StatusOK, s)
}
