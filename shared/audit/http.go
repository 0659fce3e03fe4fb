package audit

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// Routes registers the admin API's audit trail on mux (admin authentication is applied
// by the caller around mux):
//
//	GET /admin/audit?tenant=&actor=&action=&outcome=&start=&end=&limit=&cursor=
//	    {"object":"list","data":[event],"next_cursor":"…"}, newest first
//
// start and end are RFC 3339 times (start inclusive, end exclusive).
func Routes(mux *http.ServeMux, l Log) {
	mux.HandleFunc("GET /admin/audit", func(w http.ResponseWriter, r *http.Request) {
		q, err := ParseQuery(r)
		if err != nil {
			httpapi.WriteError(w, APIError(err))
			return
		}
		page, err := l.Query(r.Context(), q)
		if err != nil {
			httpapi.WriteError(w, APIError(err))
			return
		}
		if page.Events == nil {
			page.Events = []Event{}
		}
		httpapi.WriteJSON(w, http.StatusOK, listResponse{Object: "list", Page: page})
	})
}

// listResponse is GET /admin/audit's body.
type listResponse struct {
	Object string `json:"object"`
	Page
}

// ParseQuery reads a Query from a request's query parameters.
func ParseQuery(r *http.Request) (Query, error) {
	v := r.URL.Query()
	q := Query{Tenant: v.Get("tenant"), Actor: v.Get("actor"), Action: v.Get("action"), Outcome: Outcome(v.Get("outcome")), Cursor: v.Get("cursor")}
	switch q.Outcome {
	case "", OutcomeSuccess, OutcomeDenied, OutcomeRejected, OutcomeFailed:
	default:
		return q, fmt.Errorf("outcome %q is not success, denied, rejected or failed: %w", q.Outcome, ErrInvalid)
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"start", &q.Start}, {"end", &q.End}} {
		s := v.Get(f.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("%s %q is not an RFC 3339 time: %w", f.name, s, ErrInvalid)
		}
		*f.dst = t.UTC()
	}
	if !q.Start.IsZero() && !q.End.IsZero() && !q.Start.Before(q.End) {
		return q, fmt.Errorf("start must be before end: %w", ErrInvalid)
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, fmt.Errorf("limit %q is not a number from 1 to %d: %w", s, MaxLimit, ErrInvalid)
		}
		q.Limit = n
	}
	return q, nil
}

// MaxLimit is the largest page Query returns.
const MaxLimit = 1000

// APIError maps the package's errors to HTTP: ErrInvalid → 400; others pass through
// (500 without internals).
func APIError(err error) error {
	return httpapi.FromError(err)
}
