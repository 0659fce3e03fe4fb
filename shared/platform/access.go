package platform

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/plinth-ai/plinth/shared/access"
	"github.com/plinth-ai/plinth/shared/agent"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/humaneval"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// authorizer decides every request to mux's routes with the one access policy
// (shared/access) before it reaches next.
func authorizer(p *Platform, mux *http.ServeMux) func(http.Handler) http.Handler {
	return access.Middleware(mux, access.WithOwners(owners(p)), access.WithLogger(p.log))
}

// owners finds the tenants owning resources that admin paths name by ID. Capabilities
// are reached on first lookup, so a function that does not serve a resource's routes
// never builds its capability for them.
func owners(p *Platform) access.Owners {
	notFound := func(err error, sentinels ...error) error {
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return fmt.Errorf("%w: %v", access.ErrNoOwner, err)
			}
		}
		return err
	}
	return access.Owners{
		access.ResourceKey: func(ctx context.Context, id string) (string, error) {
			t, err := p.Tenants.KeyTenant(ctx, id)
			return t, notFound(err, tenant.ErrNotFound)
		},
		access.ResourcePrompt: func(ctx context.Context, id string) (string, error) {
			pr, err := p.Registry.Prompt(ctx, id, 0)
			return pr.Tenant, notFound(err, registry.ErrNotFound)
		},
		access.ResourceGuardrailPolicy: func(ctx context.Context, id string) (string, error) {
			g, err := Guardrails(p)
			if err != nil {
				return "", err
			}
			info, err := g.Repo.Info(ctx, id)
			return info.Tenant, notFound(err, guardrail.ErrPolicyNotFound)
		},
		access.ResourceEvalRun: func(ctx context.Context, id string) (string, error) {
			svc, err := Eval(p)
			if err != nil {
				return "", err
			}
			run, err := svc.GetRun(ctx, strings.TrimSuffix(id, ".csv"))
			if err != nil {
				return "", notFound(err, eval.ErrNotFound)
			}
			return run.Tenant, nil
		},
		access.ResourceAgent: func(ctx context.Context, id string) (string, error) {
			a, err := Agents(p)
			if err != nil {
				return "", err
			}
			d, err := a.Registry.Get(ctx, id, 0)
			return d.Tenant, notFound(err, agent.ErrNotFound)
		},
		access.ResourceFineTuningJob: func(ctx context.Context, id string) (string, error) {
			svc, err := Customize(p)
			if err != nil {
				return "", err
			}
			j, err := svc.GetJob(ctx, "", id)
			if err != nil {
				return "", notFound(err, customize.ErrNotFound)
			}
			return j.Tenant(), nil
		},
		access.ResourceReviewQueue: func(ctx context.Context, id string) (string, error) {
			svc, err := HumanEval(p)
			if err != nil {
				return "", err
			}
			q, err := svc.GetQueue(ctx, "", id)
			if err != nil {
				return "", notFound(err, humaneval.ErrNotFound)
			}
			return q.Tenant, nil
		},
	}
}

// adminAuth admits the admin API's callers locally: the platform admin key, platform
// keys (named admins, auditors), tenants' keys (tenant admins, developers, viewers and
// auditors, whose role the access policy then judges) and, with v, SigV4 signatures of
// mapped IAM principals. The access policy behind it decides what each may call.
func adminAuth(adminKey string, tenants *tenant.Service, v *sigv4.Verifier, next http.Handler) http.Handler {
	want := []byte(adminKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p auth.Principal
		switch tok := tenant.BearerToken(r); {
		case v != nil && sigv4.IsSigned(r):
			cred, err := v.Verify(r)
			if err != nil {
				httpapi.WriteError(w, sigv4.APIError(err))
				return
			}
			if p, _, err = tenants.AuthenticateIAMAny(r.Context(), cred.PrincipalARN); err != nil {
				writeAuthError(w, r, err)
				return
			}
		case tok == "":
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "the admin API needs Authorization: Bearer <admin key or API key>"))
			return
		case subtle.ConstantTimeCompare([]byte(tok), want) == 1:
			p = auth.Principal{Admin: true, KeyID: "admin"}
		case strings.HasPrefix(tok, tenant.SecretPrefix):
			id, err := tenants.ResolveAny(r.Context(), tok)
			if err != nil {
				writeAuthError(w, r, err)
				return
			}
			p = id.Principal
		default:
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "invalid admin key"))
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// writeAuthError answers a failed credential check: the credential's fault (401/403), or
// the tenant store's (503, logged).
func writeAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpapi.Error
	if errors.As(tenant.APIError(err), &he) {
		httpapi.WriteError(w, he)
		return
	}
	slog.ErrorContext(r.Context(), "authentication unavailable", "request_id", httpapi.RequestID(r.Context()), "error", err)
	httpapi.WriteError(w, &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeServiceUnavailable, Message: "credentials cannot be checked right now; retry shortly"})
}

// iamAdmin admits the IAM principal API Gateway verified on the admin API: with the role
// its ARN is mapped to (a tenant's role, or a platform role), else as a platform admin
// (API Gateway's IAM authorization admitted it). A request without one (the route is not
// IAM-authorized) is refused.
func iamAdmin(tenants *tenant.Service) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arn, ok := iamIdentity(r)
			if !ok {
				httpapi.WriteError(w, httpapi.Errorf(http.StatusForbidden, httpapi.CodeIAMRequired, "the admin API needs AWS IAM (SigV4) authorization"))
				return
			}
			p, _, err := tenants.AuthenticateIAMAny(r.Context(), arn)
			switch {
			case errors.Is(err, tenant.ErrUnknownPrincipal):
				p = auth.Principal{Admin: true, KeyID: arn}
			case err != nil:
				writeAuthError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		})
	}
}

// mcpAccess applies the access policy to /mcp, which authenticates its callers itself.
type mcpAccess struct{ gateway.Authenticator }

func (a mcpAccess) Authenticate(r *http.Request) (*gateway.Caller, error) {
	c, err := a.Authenticator.Authenticate(r)
	if err != nil {
		return nil, err
	}
	if err := access.Check(c.Principal, r.Method+" /mcp"); err != nil {
		return nil, err
	}
	return c, nil
}
