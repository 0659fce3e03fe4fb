// Package tenantauth plugs the tenant service into the gateway's Authenticator port:
// it admits a request by API key, by AWS SigV4 signature (local IAM), or by the context
// the Lambda authorizer attached in AWS, and describes the caller with its tenant's
// settings and the one model-access policy.
package tenantauth

import (
	"net/http"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// Option configures the Authenticator.
type Option func(*Authenticator)

// WithSigV4 also admits requests signed with AWS SigV4 by one of v's credentials whose
// principal ARN is mapped to a tenant.
func WithSigV4(v *sigv4.Verifier) Option { return func(a *Authenticator) { a.sigv4 = v } }

// WithAuthorizerContext trusts the Lambda authorizer's context when fn finds one on the
// request (in AWS: the API Gateway proxy request's requestContext.authorizer).
func WithAuthorizerContext(fn func(*http.Request) (map[string]any, bool)) Option {
	return func(a *Authenticator) { a.authz = fn }
}

// WithIAMIdentity trusts the IAM principal ARN API Gateway verified (IAM authorization in
// AWS: the proxy request's requestContext.identity.userArn) when fn finds one, and maps it
// to a tenant.
func WithIAMIdentity(fn func(*http.Request) (arn string, ok bool)) Option {
	return func(a *Authenticator) { a.iam = fn }
}

// Authenticator implements gateway.Authenticator.
type Authenticator struct {
	svc   *tenant.Service
	sigv4 *sigv4.Verifier
	authz func(*http.Request) (map[string]any, bool)
	iam   func(*http.Request) (string, bool)
}

var _ gateway.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator over svc. It panics if svc is nil.
func New(svc *tenant.Service, opts ...Option) *Authenticator {
	if svc == nil {
		panic("tenantauth.New: nil tenant service")
	}
	a := &Authenticator{svc: svc}
	for _, f := range opts {
		f(a)
	}
	return a
}

// Authenticate admits the request or returns a 401/403 *httpapi.Error.
func (a *Authenticator) Authenticate(r *http.Request) (*gateway.Caller, error) {
	ctx := r.Context()
	var (
		id  tenant.Identity
		err error
	)
	if m, ok := a.authorizerContext(r); ok {
		p, ok := authorizer.PrincipalFromAuthorizerContext(m)
		if !ok {
			return nil, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "the request carries no tenant context")
		}
		id.Principal, id.KeyLimits = p, authorizer.KeyLimitsFromAuthorizerContext(m)
		if id.Tenant, err = a.svc.CachedTenant(ctx, p.TenantID); err != nil {
			return nil, tenant.APIError(err)
		}
		if id.Tenant.Status != tenant.StatusActive {
			return nil, tenant.APIError(tenant.ErrTenantSuspended)
		}
	} else if arn, ok := a.iamARN(r); ok {
		if id.Principal, id.Tenant, err = a.svc.AuthenticateIAM(ctx, arn); err != nil {
			return nil, tenant.APIError(err)
		}
	} else if a.sigv4 != nil && sigv4.IsSigned(r) {
		cred, verr := a.sigv4.Verify(r)
		if verr != nil {
			return nil, sigv4.APIError(verr)
		}
		if id.Principal, id.Tenant, err = a.svc.AuthenticateIAM(ctx, cred.PrincipalARN); err != nil {
			return nil, tenant.APIError(err)
		}
	} else {
		tok := tenant.BearerToken(r)
		if tok == "" {
			return nil, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey,
				"You didn't provide an API key. Send it as Authorization: Bearer <key>.")
		}
		if id, err = a.svc.Resolve(ctx, tok); err != nil {
			return nil, tenant.APIError(err)
		}
	}
	return CallerFor(id), nil
}

func (a *Authenticator) iamARN(r *http.Request) (string, bool) {
	if a.iam == nil {
		return "", false
	}
	arn, ok := a.iam(r)
	return arn, ok && arn != ""
}

func (a *Authenticator) authorizerContext(r *http.Request) (map[string]any, bool) {
	if a.authz == nil {
		return nil, false
	}
	return a.authz(r)
}

// CallerFor describes an authenticated identity to the gateway.
func CallerFor(id tenant.Identity) *gateway.Caller {
	return &gateway.Caller{Principal: id.Principal, Tenant: id.Tenant, KeyLimits: id.KeyLimits}
}
