package awsplatform

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/spool/sqsspool"
	"github.com/plinth-ai/plinth/shared/usage"
)

// UsageDrainHandler is the usage function's handler: an SQS event from the usage queue
// writes its records to the ledger (reporting the ones it could not store, so SQS
// redelivers just those); a scheduled EventBridge event redrives the dead-letter queue
// (PLINTH_USAGE_DLQ_URL) into the ledger.
func UsageDrainHandler(p *platform.Platform, cfg Config) func(context.Context, json.RawMessage) (any, error) {
	ledger := usage.NewLedger(p.Backends().Data.Store, 0)
	drain := sqsspool.Handler(ledger.Write, usage.Key, p.Log())
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			Records    []json.RawMessage `json:"Records"`
			DetailType string            `json:"detail-type"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("usage function: event is not JSON: %w", err)
		}
		switch {
		case probe.Records != nil:
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("usage function: SQS event: %w", err)
			}
			return drain(ctx, ev)
		case probe.DetailType == "Scheduled Event":
			if cfg.UsageDLQURL == "" {
				return nil, fmt.Errorf("usage function: %s: %w", platform.EnvUsageDLQURL, platform.ErrMissingConfig)
			}
			moved, err := sqsspool.Redrive(ctx, sqsClient(cfg, *p.Backends().AWS), cfg.UsageDLQURL, ledger.Write, usage.Key)
			p.Log().Info("usage dead-letter redrive", "moved", moved, "error", err)
			return map[string]int{"moved": moved}, err
		}
		return nil, fmt.Errorf("usage function: unknown event")
	}
}
