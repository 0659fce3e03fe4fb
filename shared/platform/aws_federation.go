package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plinth-ai/plinth/shared/federation"
)

// Decentralised mode on AWS. The admin function is the one that pulls from the centre,
// for three reasons: it builds the registry and guardrails the pull writes to; it serves
// the admin API that keeps what came from the centre read-only (FederationAPI), so the
// function that applies a pull is the one whose answers depend on it; and its role is
// the single principal the centre has to trust and map to a platform auditor, with
// execute-api:Invoke on the centre's GET /admin/sync/* only. It pulls at each cold start
// (bounded, since Lambda's init phase is) and whenever the stack's EventBridge schedule
// rule invokes it with CentralSyncEvent.

// CentralSyncTask is the value of CentralSyncEvent.Plinth.
const CentralSyncTask = "central-sync"

// CentralSyncEvent is the event the schedule rule sends the admin function
// ({"plinth":"central-sync"}, cdk/decentral.go).
type CentralSyncEvent struct {
	Plinth string `json:"plinth"`
}

// Metric of each pull on AWS (CloudWatch EMF, namespace Plinth, dimension Operation =
// central-sync): 1 for a failed pull, 0 for one that applied, so an alarm on its maximum
// sees both a failure and a function that stopped pulling (missing data).
const MetricCentralSyncFailures = "CentralSyncFailures"

// coldStartSyncTimeout bounds the pull at a cold start: Lambda's init phase has 10 s,
// and a centre that does not answer must not stop the admin API from starting.
const coldStartSyncTimeout = 5 * time.Second

// syncReportMargin is the part of a scheduled invocation's time kept for reporting a
// pull that did not finish.
const syncReportMargin = 2 * time.Second

// operationCounter is what the EMF metrics writer offers besides request metrics.
type operationCounter interface {
	Count(operation, metric string, n int64, props map[string]string)
}

// SyncAtColdStart pulls from the centre once when one is configured, logging and
// counting the outcome; a failed pull leaves the last synchronised state in force and
// the function starts anyway (the schedule tries again).
func SyncAtColdStart(ctx context.Context, p *Platform) {
	if !p.b.Central.Configured() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, coldStartSyncTimeout)
	defer cancel()
	_, _ = syncAndCount(ctx, p, "cold-start")
}

// syncAndCount pulls and applies, logs the outcome (a failure as an error) and writes
// the CentralSyncFailures metric. A pull whose parts could not all be applied counts as
// failed: what could be applied was.
func syncAndCount(ctx context.Context, p *Platform, trigger string) (federation.Result, error) {
	res, err := SyncFromCentre(ctx, p)
	reportSync(p)(res, err) // a pull applied in part logs each part that was not
	if err == nil && len(res.Errors) > 0 {
		err = fmt.Errorf("central sync applied in part: %w", errors.Join(res.Errors...))
	}
	var failed int64
	props := map[string]string{"Trigger": trigger, "Centre": p.b.Central.URL}
	if err != nil {
		failed = 1
		props["Error"] = err.Error()
	}
	if c, ok := p.b.Metrics.(operationCounter); ok {
		c.Count(CentralSyncTask, MetricCentralSyncFailures, failed, props)
	}
	return res, err
}

// AdminLambdaHandler is the admin function's Lambda handler: API Gateway proxy events are
// served by h (buffered, flushed before the invocation ends), and CentralSyncEvent pulls
// from the centre: a failed pull fails the invocation (logged as an error and counted),
// leaving the last synchronised registry and baseline in force.
func AdminLambdaHandler(p *Platform, h http.Handler) func(context.Context, json.RawMessage) (any, error) {
	serve := BufferedHandler(h, Flusher(p))
	flush := Flusher(p)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe CentralSyncEvent
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("admin function: event is not a JSON object: %w", err)
		}
		switch probe.Plinth {
		case "":
			var ev events.APIGatewayProxyRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("admin function: API Gateway event: %w", err)
			}
			return serve(ctx, ev)
		case CentralSyncTask:
			if !p.b.Central.Configured() {
				return nil, fmt.Errorf("admin function: %s event, but no centre is configured (%s): %w", CentralSyncTask, EnvCentralURL, ErrMissingConfig)
			}
			// Leave time to log and count a pull the centre is too slow to answer before
			// Lambda ends the invocation.
			if d, ok := ctx.Deadline(); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, d.Add(-syncReportMargin))
				defer cancel()
			}
			res, err := syncAndCount(ctx, p, "schedule")
			flush(ctx)
			if err != nil {
				return nil, err
			}
			return map[string]any{"created": res.Created, "updated": res.Updated, "retired": res.Retired,
				"skipped": res.Skipped, "baseline": res.Baseline}, nil
		default:
			return nil, fmt.Errorf("admin function: unknown event {\"plinth\":%q}", probe.Plinth)
		}
	}
}
