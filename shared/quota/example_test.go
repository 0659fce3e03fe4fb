package quota_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

func ExampleQuotas_Reserve() {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	// The store judges the counters' expiry by the same clock as the requests.
	q := quota.New(memstore.New(memstore.WithClock(func() time.Time { return now })))
	req := quota.ReserveRequest{Tenant: "acme", Limits: tenant.Limits{MonthlyUSD: 1}, EstTokens: 2000, EstUSD: 0.6, Now: now}

	r, err := q.Reserve(ctx, req) // worst case: 0.60 of the 1.00 budget
	fmt.Println(err)
	_, err = q.Reserve(ctx, req) // 1.20 would pass the budget
	var le *quota.LimitError
	fmt.Println(errors.As(err, &le), le.Code(), le.RetryAfter)

	_ = q.Reconcile(ctx, r, 500, 0.15) // the call cost 0.15: 0.45 is released
	_, err = q.Reserve(ctx, req)
	fmt.Println(err)
	// Output:
	// <nil>
	// true insufficient_quota 134h0m0s
	// <nil>
}
