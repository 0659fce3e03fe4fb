package httpapi

import (
	"errors"
	"net/http"

	"github.com/plinth-ai/plinth/shared/fault"
)

// The API's error codes: one word per situation across every route, listed in the
// OpenAPI document (components.schemas.Error, property code) and kept stable. Add a code
// here, with its meaning in Codes, before a handler uses it.
const (
	CodeInvalidRequest         = "invalid_request_error"
	CodeInvalidJSON            = "invalid_json"
	CodeInvalidModelKind       = "invalid_model_kind"
	CodeContextLengthExceeded  = "context_length_exceeded"
	CodeContentFilter          = "content_filter"
	CodeTenantRequired         = "tenant_required"
	CodeInvalidAPIKey          = "invalid_api_key"
	CodeInsufficientScope      = "insufficient_scope"
	CodeAdminRequired          = "admin_required"
	CodeIAMRequired            = "iam_required"
	CodePermissionDenied       = "permission_denied"
	CodeInvalidSignature       = "invalid_signature"
	CodeTenantSuspended        = "tenant_suspended"
	CodeUnknownPrincipal       = "unknown_principal"
	CodeModelNotAllowed        = "model_not_allowed"
	CodeModelNotApproved       = "model_not_approved"
	CodeNotFound               = "not_found"
	CodeModelNotFound          = "model_not_found"
	CodeMethodNotAllowed       = "method_not_allowed"
	CodeNotAcceptable          = "not_acceptable"
	CodeRequestTimeout         = "request_timeout"
	CodeAlreadyExists          = "already_exists"
	CodeConcurrentUpdate       = "concurrent_update"
	CodeExecutionNotRunning    = "execution_not_running"
	CodeRequestTooLarge        = "request_too_large"
	CodeUnsupportedMediaType   = "unsupported_media_type"
	CodeRateLimitExceeded      = "rate_limit_exceeded"
	CodeInsufficientQuota      = "insufficient_quota"
	CodeUpstreamRateLimited    = "upstream_rate_limited"
	CodeClientClosedRequest    = "client_closed_request"
	CodeInternal               = "internal_error"
	CodeGuardrailPolicyMissing = "guardrail_policy_missing"
	CodeGuardrailUnavailable   = "guardrail_unavailable"
	CodeUpstreamError          = "upstream_error"
	CodeUpstreamUnavailable    = "upstream_unavailable"
	CodeModelUnavailable       = "model_unavailable"
	CodeServiceUnavailable     = "service_unavailable"
	CodeUpstreamTimeout        = "upstream_timeout"
)

// CodeInfo documents one error code.
type CodeInfo struct {
	Code    string
	Status  int
	Meaning string
}

// Codes is the catalogue of error codes, in the order the OpenAPI document lists them.
var Codes = []CodeInfo{
	{CodeInvalidRequest, http.StatusBadRequest, "a field is missing or invalid; `param` names it"},
	{CodeInvalidJSON, http.StatusBadRequest, "the body is not valid JSON"},
	{CodeInvalidModelKind, http.StatusBadRequest, "the model is of the wrong kind for the endpoint (a chat model for embeddings, ...)"},
	{CodeContextLengthExceeded, http.StatusBadRequest, "the messages exceed the model's context window"},
	{CodeContentFilter, http.StatusBadRequest, "the model provider refused the content"},
	{CodeTenantRequired, http.StatusBadRequest, "the ID names resources of several tenants: add `?tenant=`"},
	{CodeInvalidAPIKey, http.StatusUnauthorized, "no credentials, or invalid, revoked or expired ones"},
	{CodeInsufficientScope, http.StatusForbidden, "the key lacks the scope the operation needs"},
	{CodeAdminRequired, http.StatusForbidden, "the operation needs platform admin credentials"},
	{CodeIAMRequired, http.StatusForbidden, "the admin API in AWS needs IAM (SigV4) authorization"},
	{CodePermissionDenied, http.StatusForbidden, "the caller is authenticated but may not act on this resource"},
	{CodeInvalidSignature, http.StatusForbidden, "the SigV4 signature does not verify"},
	{CodeTenantSuspended, http.StatusForbidden, "the tenant is suspended"},
	{CodeUnknownPrincipal, http.StatusForbidden, "the IAM principal is mapped to no tenant"},
	{CodeModelNotAllowed, http.StatusForbidden, "the tenant or key may not call the model"},
	{CodeModelNotApproved, http.StatusForbidden, "the model is registered but not approved"},
	{CodeNotFound, http.StatusNotFound, "the named resource (in the path, the query or a body field named by `param`) does not exist, or the route does not"},
	{CodeModelNotFound, http.StatusNotFound, "the named model does not exist or the caller may not see it"},
	{CodeMethodNotAllowed, http.StatusMethodNotAllowed, "the route does not take this method"},
	{CodeNotAcceptable, http.StatusNotAcceptable, "the Accept header excludes every representation the route offers"},
	{CodeRequestTimeout, http.StatusRequestTimeout, "the request body did not arrive in time"},
	{CodeAlreadyExists, http.StatusConflict, "a resource with this ID already exists"},
	{CodeConcurrentUpdate, http.StatusConflict, "the resource changed while this request updated it; retry"},
	{CodeExecutionNotRunning, http.StatusConflict, "the execution has already finished"},
	{CodeRequestTooLarge, http.StatusRequestEntityTooLarge, "the body or upload exceeds the endpoint's limit"},
	{CodeUnsupportedMediaType, http.StatusUnsupportedMediaType, "the body's media type is not the one the endpoint takes"},
	{CodeRateLimitExceeded, http.StatusTooManyRequests, "a request or token rate limit of the tenant or key; retry after `Retry-After`"},
	{CodeInsufficientQuota, http.StatusTooManyRequests, "a daily token quota or monthly budget is used up"},
	{CodeUpstreamRateLimited, http.StatusTooManyRequests, "every deployment of the model is rate limited by its provider"},
	{CodeClientClosedRequest, 499, "the client went away before the answer (logged, never seen by the client)"},
	{CodeInternal, http.StatusInternalServerError, "an unexpected failure; the message never leaks internals"},
	{CodeGuardrailUnavailable, http.StatusInternalServerError, "the tenant's guardrail policy could not be applied; the request is refused rather than let through unguarded"},
	{CodeUpstreamError, http.StatusBadGateway, "the model provider failed"},
	{CodeGuardrailPolicyMissing, http.StatusServiceUnavailable, "the guardrail policy assigned to the tenant no longer exists; an admin must assign another"},
	{CodeUpstreamUnavailable, http.StatusServiceUnavailable, "the model provider is unavailable"},
	{CodeModelUnavailable, http.StatusServiceUnavailable, "a model the operation needs is not configured or not reachable"},
	{CodeServiceUnavailable, http.StatusServiceUnavailable, "a dependency of the platform (its store, or the key a silo tenant's data is encrypted with) cannot answer right now; the message says which"},
	{CodeUpstreamTimeout, http.StatusGatewayTimeout, "the model provider timed out"},
}

// KnownCode reports whether code is in the catalogue.
func KnownCode(code string) bool {
	for _, c := range Codes {
		if c.Code == code {
			return true
		}
	}
	return false
}

// FromError maps a domain failure to the API's error: an *Error is kept; the kinds of
// package fault become 404 not_found, 409 already_exists, 400 invalid_request_error,
// 409 concurrent_update, 400 tenant_required and 503 service_unavailable, with the failure's own message and param. Anything else is
// returned unchanged (WriteError turns it into a 500 that leaks nothing).
func FromError(err error) error {
	var he *Error
	if err == nil || errors.As(err, &he) {
		return err
	}
	status, code := 0, ""
	switch {
	case errors.Is(err, fault.ErrModelNotFound):
		status, code = http.StatusNotFound, CodeModelNotFound
	case errors.Is(err, fault.ErrNotFound):
		status, code = http.StatusNotFound, CodeNotFound
	case errors.Is(err, fault.ErrExists):
		status, code = http.StatusConflict, CodeAlreadyExists
	case errors.Is(err, fault.ErrInvalid):
		status, code = http.StatusBadRequest, CodeInvalidRequest
	case errors.Is(err, fault.ErrConflict):
		status, code = http.StatusConflict, CodeConcurrentUpdate
	case errors.Is(err, fault.ErrAmbiguous):
		status, code = http.StatusBadRequest, CodeTenantRequired
	case errors.Is(err, fault.ErrUnavailable):
		status, code = http.StatusServiceUnavailable, CodeServiceUnavailable
	default:
		return err
	}
	return &Error{Status: status, Code: code, Param: fault.Param(err), Message: fault.Message(err)}
}

// CodeForStatus is the code for an error whose producer named only a status (a library's
// plain HTTP error).
func CodeForStatus(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return CodeInvalidAPIKey
	case status == http.StatusForbidden:
		return CodePermissionDenied
	case status == http.StatusNotFound:
		return CodeNotFound
	case status == http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case status == http.StatusNotAcceptable:
		return CodeNotAcceptable
	case status == http.StatusRequestTimeout:
		return CodeRequestTimeout
	case status == http.StatusConflict:
		return CodeConcurrentUpdate
	case status == http.StatusRequestEntityTooLarge:
		return CodeRequestTooLarge
	case status == http.StatusUnsupportedMediaType:
		return CodeUnsupportedMediaType
	case status == http.StatusTooManyRequests:
		return CodeRateLimitExceeded
	case status == http.StatusServiceUnavailable:
		return CodeServiceUnavailable
	case status >= 500:
		return CodeInternal
	default:
		return CodeInvalidRequest
	}
}
