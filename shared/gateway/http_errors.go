package gateway

import (
	"errors"
	"net/http"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/quota"
)

// Statuses besides net/http's.
const (
	statusOK       = http.StatusOK
	statusCanceled = 499 // the client closed the request (nginx's convention)
	statusInternal = http.StatusInternalServerError
)

// errorStatuses maps the service's sentinels to OpenAI's statuses and error codes, most
// specific first (upstream kinds before ErrUpstream).
var errorStatuses = []struct {
	kind   error
	status int
	code   string
}{
	{quota.ErrBudgetExceeded, http.StatusTooManyRequests, httpapi.CodeInsufficientQuota},
	{quota.ErrRateLimited, http.StatusTooManyRequests, httpapi.CodeRateLimitExceeded},
	{ErrInvalidRequest, http.StatusBadRequest, httpapi.CodeInvalidRequest},
	{ErrModelNotFound, http.StatusNotFound, httpapi.CodeModelNotFound},
	{ErrModelNotAllowed, http.StatusForbidden, httpapi.CodeModelNotAllowed},
	{ErrModelNotApproved, http.StatusForbidden, httpapi.CodeModelNotApproved},
	{ErrModelKind, http.StatusBadRequest, httpapi.CodeInvalidModelKind},
	{ErrInsufficientScope, http.StatusForbidden, httpapi.CodeInsufficientScope},
	{ErrKnowledgeBaseNotFound, http.StatusNotFound, httpapi.CodeNotFound},
	{ErrGroundingUnavailable, http.StatusBadRequest, httpapi.CodeInvalidRequest},
	{ErrGuardrailUnavailable, http.StatusInternalServerError, httpapi.CodeGuardrailUnavailable},
	{ErrCanceled, statusCanceled, httpapi.CodeClientClosedRequest},
	{ErrContextLength, http.StatusBadRequest, httpapi.CodeContextLengthExceeded},
	{ErrContentFiltered, http.StatusBadRequest, httpapi.CodeContentFilter},
	{ErrUpstreamRejected, http.StatusBadRequest, httpapi.CodeInvalidRequest},
	{ErrUpstreamRateLimited, http.StatusTooManyRequests, httpapi.CodeUpstreamRateLimited},
	{ErrUpstreamTimeout, http.StatusGatewayTimeout, httpapi.CodeUpstreamTimeout},
	{ErrUpstreamUnavailable, http.StatusServiceUnavailable, httpapi.CodeUpstreamUnavailable},
	{ErrUpstream, http.StatusBadGateway, httpapi.CodeUpstreamError},
}

// apiError describes err in the API's terms: an *httpapi.Error (decoding failures) as
// it is, a sentinel by the table above, anything else as a 500 that leaks nothing.
func apiError(err error) *httpapi.Error {
	var he *httpapi.Error
	if errors.As(err, &he) {
		return he
	}
	for _, e := range errorStatuses {
		if !errors.Is(err, e.kind) {
			continue
		}
		out := &httpapi.Error{Status: e.status, Code: e.code, Message: err.Error(), RetryAfter: RetryAfter(err)}
		var ge *Error
		if errors.As(err, &ge) {
			out.Message, out.Param = ge.Error(), ge.Param
		}
		var le *quota.LimitError
		if errors.As(err, &le) {
			out.Message = le.Error()
			if e.code == httpapi.CodeInsufficientQuota {
				out.Type = "insufficient_quota"
			}
		}
		return out
	}
	return &httpapi.Error{Status: http.StatusInternalServerError, Code: httpapi.CodeInternal, Message: "internal error"}
}

// APIError describes err in the API's terms when the gateway (or quota) refused or
// failed the request: other HTTP adapters calling the service (grounded answers, ...)
// answer those errors as the gateway's own routes do. ok is false for other errors.
func APIError(err error) (e *httpapi.Error, ok bool) {
	for _, s := range errorStatuses {
		if errors.Is(err, s.kind) {
			return apiError(err), true
		}
	}
	return nil, false
}

// statusOf is the HTTP status a request ending with err answers (usage records keep it).
func statusOf(err error) int { return apiError(err).Status }

// codeOf is the error code a request ending with err answers.
func codeOf(err error) string { return apiError(err).Code }

// writeError answers err in OpenAI's error shape, unless the client has gone.
func writeError(w http.ResponseWriter, err error) {
	e := apiError(err)
	if e.Status == statusCanceled {
		return
	}
	httpapi.WriteError(w, e)
}
