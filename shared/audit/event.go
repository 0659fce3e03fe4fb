package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
)

// Sentinel errors.
var (
	// ErrInvalid means an event or a query is malformed (HTTP 400 at the edge).
	ErrInvalid = fault.Sentinel("audit: invalid", fault.ErrInvalid)
	// ErrExists means an event with the same ID was already appended; the log never
	// overwrites.
	ErrExists = errors.New("audit: event exists")
	// ErrClosed means the Writer was closed.
	ErrClosed = errors.New("audit: writer closed")
)

// Outcome summarises how an action ended.
type Outcome string

const (
	// OutcomeSuccess is a 1xx–3xx answer.
	OutcomeSuccess Outcome = "success"
	// OutcomeDenied is a 401 or 403: the caller was not allowed.
	OutcomeDenied Outcome = "denied"
	// OutcomeRejected is any other 4xx: the request was refused as invalid, absent or
	// over a limit.
	OutcomeRejected Outcome = "rejected"
	// OutcomeFailed is a 5xx: the platform or a dependency failed.
	OutcomeFailed Outcome = "failed"
)

// OutcomeOf maps an HTTP status to an Outcome.
func OutcomeOf(status int) Outcome {
	switch {
	case status == 401 || status == 403:
		return OutcomeDenied
	case status >= 500:
		return OutcomeFailed
	case status >= 400:
		return OutcomeRejected
	default:
		return OutcomeSuccess
	}
}

// Actor types.
const (
	ActorAdmin    = "admin"    // a platform administrator (admin key locally, IAM in AWS)
	ActorAPIKey   = "api_key"  // a tenant's API key (Actor is its public key ID)
	ActorIAM      = "iam"      // an IAM principal mapped to a tenant (Actor is its ARN)
	ActorPlatform = "platform" // the platform itself (schedules, flows)
)

// Event is one audit record.
type Event struct {
	// ID is unique and sorts by Time; Append assigns it when empty.
	ID string `json:"id"`
	// Time is when the action completed (UTC).
	Time time.Time `json:"time"`
	// Tenant is the tenant the action concerned, when there is one.
	Tenant string `json:"tenant,omitempty"`
	// Actor identifies who acted: an API key ID, an IAM principal ARN, "admin", or the
	// platform component. Never a secret.
	Actor string `json:"actor"`
	// ActorType is one of the Actor* constants.
	ActorType string `json:"actor_type"`
	// Action names the operation: the route's OpenAPI operationId (e.g. "createTenant",
	// "uploadDocument", "applyGuardrail"), or "METHOD /route" for an undocumented route.
	Action string `json:"action"`
	// Resource is what the action was applied to, as a path of identifiers
	// (e.g. "tenants/acme/keys/key_123", "knowledge-bases/docs/documents/doc_9").
	Resource string `json:"resource,omitempty"`
	// Method and Route are the HTTP method and route pattern the action arrived on.
	Method string `json:"method,omitempty"`
	Route  string `json:"route,omitempty"`
	// SourceIP and UserAgent say where the request came from.
	SourceIP  string `json:"source_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// Outcome and Status say how it ended; ErrorCode is the API error code on failure.
	Outcome   Outcome `json:"outcome"`
	Status    int     `json:"status,omitempty"`
	ErrorCode string  `json:"error_code,omitempty"`
	// RequestID joins the event to request logs, usage records and traces.
	RequestID string `json:"request_id,omitempty"`
	// Details holds further identifiers (never secrets or content), e.g. a policy version.
	Details map[string]string `json:"details,omitempty"`
}

// Validate checks the fields every event needs.
func (e Event) Validate() error {
	switch {
	case e.Action == "":
		return fmt.Errorf("event without an action: %w", ErrInvalid)
	case e.Actor == "":
		return fmt.Errorf("event %s without an actor: %w", e.Action, ErrInvalid)
	case e.Outcome == "":
		return fmt.Errorf("event %s without an outcome: %w", e.Action, ErrInvalid)
	case e.Time.IsZero():
		return fmt.Errorf("event %s without a time: %w", e.Action, ErrInvalid)
	case e.ID != "" && !validID(e.ID):
		return fmt.Errorf("event ID %q is not one NewID makes: %w", e.ID, ErrInvalid)
	}
	return nil
}

// Query selects events. Empty fields match everything; Start and End bound Time
// (Start inclusive, End exclusive).
type Query struct {
	Tenant  string
	Actor   string
	Action  string
	Outcome Outcome
	Start   time.Time
	End     time.Time
	// Limit caps the page (default 100, at most 1000).
	Limit int
	// Cursor resumes after the last event of a previous page.
	Cursor string
}

// Page is one page of events, newest first; NextCursor is empty on the last page.
type Page struct {
	Events     []Event `json:"data"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// Matches reports whether e satisfies q's filters (not its paging).
func (q Query) Matches(e Event) bool {
	return (q.Tenant == "" || e.Tenant == q.Tenant) &&
		(q.Actor == "" || e.Actor == q.Actor) &&
		(q.Action == "" || e.Action == q.Action) &&
		(q.Outcome == "" || e.Outcome == q.Outcome) &&
		(q.Start.IsZero() || !e.Time.Before(q.Start)) &&
		(q.End.IsZero() || e.Time.Before(q.End))
}

// Log is the append-only audit log port.
type Log interface {
	// Append stores e (its ID set); it never replaces an event: appending an ID twice
	// fails with ErrExists, which retries treat as done.
	Append(ctx context.Context, e Event) error
	// Query returns the events matching q, newest first.
	Query(ctx context.Context, q Query) (Page, error)
}

// Recorder is what the code performing an action calls to leave an audit event.
// Record must not block the action for long and must not drop the event silently.
type Recorder interface {
	Record(ctx context.Context, e Event)
}
