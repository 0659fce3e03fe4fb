package platform

import (
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// scopes refuses a caller whose key lacks the scope a route family needs.
func scopes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "no valid credentials were supplied"))
			return
		}
		if need := scopeFor(r.URL.Path); need != "" && !p.Has(need) {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusForbidden, httpapi.CodeInsufficientScope, "this key lacks the %q scope needed for %s", need, r.URL.Path))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func scopeFor(path string) auth.Scope {
	switch {
	case strings.HasPrefix(path, "/v1/knowledge-bases"):
		return auth.ScopeRetrieval
	case strings.HasPrefix(path, "/v1/chat/"), strings.HasPrefix(path, "/v1/embeddings"),
		strings.HasPrefix(path, "/v1/models"), strings.HasPrefix(path, "/v1/guardrails"),
		strings.HasPrefix(path, "/v1/responses"), strings.HasPrefix(path, "/v1/tools"):
		return auth.ScopeInference
	}
	return ""
}
