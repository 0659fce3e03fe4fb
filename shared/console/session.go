package console

import (
	"net/http"

	"github.com/plinth-ai/plinth/shared/access"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// Session is who the signed-in credential is, so the console shows only what it may do.
type Session struct {
	// Role is the credential's role: platform-admin, auditor, tenant-admin, developer or
	// viewer (see auth.Role).
	Role auth.Role `json:"role"`
	// Platform is set for credentials that act across tenants (platform admins and
	// platform auditors); the others act for Tenant only.
	Platform bool         `json:"platform"`
	Tenant   string       `json:"tenant,omitempty"`
	KeyID    string       `json:"key_id"`
	Scopes   []auth.Scope `json:"scopes"`
	// Allowed lists the routes ("METHOD /pattern") the credential may call for its own
	// tenant (every tenant for platform credentials), as the access policy decides them.
	Allowed []string `json:"allowed"`
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
	s := Session{Role: p.EffectiveRole(), Platform: p.PlatformWide(), Tenant: p.TenantID, KeyID: p.KeyID, Scopes: p.Scopes,
		Allowed: access.Allowed(p)}
	if p.Admin {
		s.Scopes = []auth.Scope{auth.ScopeInference, auth.ScopeRetrieval, auth.ScopeAdminRead, auth.ScopeAdmin}
	}
	if s.Scopes == nil {
		s.Scopes = []auth.Scope{}
	}
	httpapi.WriteJSON(w, http.StatusOK, s)
}
