package tenant

import (
	"context"
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

type identityKey struct{}

// WithIdentity returns ctx carrying the identity and its principal (auth.FromContext
// works on the result).
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(auth.WithPrincipal(ctx, id.Principal), identityKey{}, id)
}

// IdentityFrom returns the identity set by Middleware.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// BearerToken returns the token of an "Authorization: Bearer …" header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Middleware authenticates every request with an API key (Authorization: Bearer pk-…),
// or, when v is non-nil, with an AWS SigV4 signature whose credential's principal ARN is
// mapped to a tenant. It stores the Identity (and the auth.Principal) in the request
// context and answers 401/403 in OpenAI's error shape otherwise. This is what the
// authorizer does in AWS, for the local platform.
func (s *Service) Middleware(v *sigv4.Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var (
				id  Identity
				err error
			)
			switch {
			case v != nil && sigv4.IsSigned(r):
				var cred sigv4.Credential
				if cred, err = v.Verify(r); err != nil {
					httpapi.WriteError(w, sigv4.APIError(err))
					return
				}
				id.Principal, id.Tenant, err = s.AuthenticateIAM(r.Context(), cred.PrincipalARN)
			default:
				tok := BearerToken(r)
				if tok == "" {
					httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey,
						"You didn't provide an API key. Send it as Authorization: Bearer <key>."))
					return
				}
				id, err = s.Resolve(r.Context(), tok)
			}
			if err != nil {
				httpapi.WriteError(w, APIError(err))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}

// CachedTenant returns the tenant from the authentication cache's lifetime rules: read
// from the store at most once per cache TTL per instance. The gateway uses it in AWS,
// where the authorizer already resolved the key and passed only the tenant ID. Treat the
// result as read-only.
func (s *Service) CachedTenant(ctx context.Context, id string) (*Tenant, error) {
	now := s.opt.now()
	key := "tenant:" + id
	s.mu.RLock()
	e := s.iam[key]
	s.mu.RUnlock()
	if e != nil && now.UnixNano() < e.until {
		return e.id.Tenant, nil
	}
	t, err := s.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.opt.ttl > 0 {
		s.mu.Lock()
		if len(s.iam) >= s.opt.maxEntries {
			clear(s.iam)
		}
		s.iam[key] = &cacheEntry{id: Identity{Tenant: t}, until: now.Add(s.opt.ttl).UnixNano()}
		s.mu.Unlock()
	}
	return t, nil
}
