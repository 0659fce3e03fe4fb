package usage_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/usage"
	"github.com/plinth-ai/plinth/test/dynalite"
)

// TestRecorderOnDynamoDB writes records through the real AWS SDK client against
// minidyn's DynamoDB server and reads the aggregates back; a record written twice (a
// retried write) is counted once.
func TestRecorderOnDynamoDB(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	c := dynalite.Client(srv.URL)
	if err := dynamostore.CreateTable(ctx, c, "plinth"); err != nil {
		t.Fatal(err)
	}
	st, err := dynamostore.New(c, "plinth", dynamostore.WithClock(testNow))
	if err != nil {
		t.Fatal(err)
	}
	rec := usage.NewRecorder(st)
	for i := 0; i < 20; i++ {
		r := record("acme", "local-chat", day1, i, 10, 5, 0.002)
		r.Guardrail = map[string]int{"EMAIL": 1}
		if err := rec.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// The same record again, as a retry sends it: whichever copy lands first, it counts once.
	again := record("acme", "local-chat", day1, 3, 10, 5, 0.002)
	again.Guardrail = map[string]int{"EMAIL": 1}
	if err := rec.Record(ctx, again); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rg, _ := usage.ParseRange("2026-11-24", "2026-11-24", day1)
	_, total, err := usage.NewService(st, nil).Summary(ctx, "acme", rg, "day")
	if err != nil {
		t.Fatal(err)
	}
	if total.Requests != 20 || total.InputTokens != 200 || fmt.Sprintf("%.3f", total.CostUSD) != "0.040" || total.GuardrailHits["EMAIL"] != 20 {
		t.Fatalf("total %+v", total)
	}
}
