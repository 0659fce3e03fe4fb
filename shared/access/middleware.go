package access

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// ErrNoOwner is returned by an OwnerFunc when the resource does not exist.
var ErrNoOwner = errors.New("access: no such resource")

// OwnerFunc returns the tenant owning the resource with the ID ("" for a platform-shared
// one), or an error wrapping ErrNoOwner when there is none.
type OwnerFunc func(ctx context.Context, id string) (string, error)

// Owners look up resource owners by resource kind (ResourceKey, ResourceEvalSuite, ...).
type Owners map[string]OwnerFunc

// maxPeek bounds the JSON bodies Middleware reads to find their tenant; larger bodies of
// routes that name their tenant in the body are refused for tenants' principals (the
// largest such bodies, suites with inline datasets, are capped at 32 MiB by their handlers).
const maxPeek = 32 << 20

// Option configures Middleware.
type Option func(*mwOptions)

type mwOptions struct {
	owners Owners
	log    *slog.Logger
}

// WithOwners sets how owners of resources named in paths are found.
func WithOwners(o Owners) Option { return func(m *mwOptions) { m.owners = o } }

// WithLogger sets the logger for failed owner lookups (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(m *mwOptions) { m.log = l } }

// Middleware decides every request to mux's routes with Decide before it reaches them,
// for the principal the authentication in front of it put in the context (auth.
// FromContext). A route without a rule is open to platform admins only; a request that
// matches no route passes through (the mux answers 404 or 405). Refusals are 403 in the
// API's error shape, naming the role, scope or tenant that was missing.
//
// For a tenant's principal on a Query route without a tenant parameter, the request
// reaches the handler with the caller's own tenant filled in, so lists show only its
// tenant.
func Middleware(mux *http.ServeMux, opts ...Option) func(http.Handler) http.Handler {
	o := mwOptions{log: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := auth.FromContext(r.Context())
			if !ok {
				httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "no valid credentials were supplied"))
				return
			}
			pattern := httpapi.Pattern(mux, r)
			if pattern == "" {
				next.ServeHTTP(w, r)
				return
			}
			rule, ok := RuleFor(pattern)
			if !ok {
				rule = Rule{Roles: nobody}
			}
			r, err := o.check(p, rule, pattern, r)
			if err != nil {
				httpapi.WriteError(w, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Check decides a request for a route outside a ServeMux (the MCP gateway) with the rule
// of pattern; tenant-locating rules are not supported there.
func Check(p auth.Principal, pattern string) error {
	rule, ok := RuleFor(pattern)
	if !ok {
		rule = Rule{Roles: nobody}
	}
	return APIError(Decide(p, rule, Target{}))
}

// check decides the request and returns it, possibly with the caller's tenant filled in.
func (o *mwOptions) check(p auth.Principal, rule Rule, pattern string, r *http.Request) (*http.Request, error) {
	// The role and scope come first: a request the role may never make is refused before
	// anything is looked up for it.
	if err := Decide(p, rule, Target{Tenant: p.TenantID}); err != nil || p.PlatformWide() {
		return r, APIError(err)
	}
	for _, l := range rule.Tenant {
		var (
			t   Target
			err error
		)
		switch l.Where {
		case Platform, Global, Own:
			continue
		case Path:
			t.Tenant = pathValue(pattern, r.URL, l.Param)
		case Query:
			q := r.URL.Query()
			if q.Get("tenant") == "" {
				q.Set("tenant", p.TenantID)
				r = r.Clone(r.Context())
				r.URL.RawQuery = q.Encode()
			}
			t.Tenant = q.Get("tenant")
		case Body:
			if t.Tenant, r, err = bodyTenant(r); err != nil {
				return r, err
			}
			if t.Tenant == "" {
				return r, httpapi.BadRequest("tenant", "tenant is required: this credential acts for tenant %s", p.TenantID)
			}
		case Owned:
			if t, err = o.owner(r.Context(), l, pathValue(pattern, r.URL, l.Param)); err != nil {
				return r, err
			}
		}
		if err := Decide(p, rule, t); err != nil {
			return r, APIError(err)
		}
	}
	return r, nil
}

func (o *mwOptions) owner(ctx context.Context, l Locator, id string) (Target, error) {
	f := o.owners[l.Resource]
	if f == nil {
		o.log.ErrorContext(ctx, "no owner lookup for a resource kind; refusing", "resource", l.Resource)
		return Target{}, httpapi.Errorf(http.StatusForbidden, httpapi.CodePermissionDenied, "the owner of this %s cannot be checked", l.Resource)
	}
	owner, err := f(ctx, id)
	switch {
	case errors.Is(err, ErrNoOwner):
		return Target{}, httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "%s %q does not exist", l.Resource, id)
	case err != nil:
		o.log.ErrorContext(ctx, "owner lookup failed", "resource", l.Resource, "error", err)
		return Target{}, &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeServiceUnavailable, Message: "access cannot be checked right now; retry shortly"}
	}
	return Target{Tenant: owner, Shared: owner == ""}, nil
}

// bodyTenant reads the JSON body's "tenant" and gives the handler the body back whole.
func bodyTenant(r *http.Request) (string, *http.Request, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return "", r, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxPeek+1))
	_ = r.Body.Close()
	if err != nil {
		return "", r, httpapi.BadRequest("", "the request body could not be read: %v", err)
	}
	if len(raw) > maxPeek {
		return "", r, &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Code: httpapi.CodeRequestTooLarge, Message: "request body too large"}
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(raw))
	r2.ContentLength = int64(len(raw))
	var body struct {
		Tenant string `json:"tenant"`
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return "", r2, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeInvalidJSON, "request body is not valid JSON: %v", err)
		}
	}
	return body.Tenant, r2, nil
}

// pathValue returns the value of {param} (or {param...}) of pattern in u's path.
func pathValue(pattern string, u *url.URL, param string) string {
	_, pat, _ := strings.Cut(pattern, " ")
	segs := strings.Split(strings.TrimPrefix(pat, "/"), "/")
	parts := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	for i, s := range segs {
		if i >= len(parts) {
			return ""
		}
		switch s {
		case "{" + param + "}":
			v, _ := url.PathUnescape(parts[i])
			return v
		case "{" + param + "...}":
			v, _ := url.PathUnescape(strings.Join(parts[i:], "/"))
			return v
		}
	}
	return ""
}

// APIError maps Decide's errors to 403s in the API's error shape; nil stays nil.
func APIError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrScope):
		return httpapi.Errorf(http.StatusForbidden, httpapi.CodeInsufficientScope, "%s", message(err))
	case errors.Is(err, ErrRole), errors.Is(err, ErrPlatformOnly), errors.Is(err, ErrOtherTenant):
		return httpapi.Errorf(http.StatusForbidden, httpapi.CodePermissionDenied, "%s", message(err))
	}
	return err
}

// message is the part of err a caller should read (without the sentinel's own text).
func message(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": access: "); i >= 0 {
		return s[:i]
	}
	return s
}
