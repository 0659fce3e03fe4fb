package quota_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/test/dynalite"
)

var tables atomic.Int64

// TestConcurrentReservationsMinidyn races the reservations through the real AWS SDK
// client against minidyn's DynamoDB server (conditional UpdateItem and
// TransactWriteItems on the wire).
func TestConcurrentReservationsMinidyn(t *testing.T) {
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	c := dynalite.Client(srv.URL)
	RunRace(t, func(tb testing.TB) store.Store {
		name := fmt.Sprintf("quota-%d", tables.Add(1))
		if err := dynamostore.CreateTable(context.Background(), c, name); err != nil {
			tb.Fatal(err)
		}
		s, err := dynamostore.New(c, name, dynamostore.WithClock(clock))
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}, false)
}

// TestConcurrentReservationsDynalite races the reservations against the dynalite server.
// dynalite has no TransactWriteItems, so only the scenarios whose limits live on one item
// (one conditional UpdateItem per request) run there; minidyn covers the others.
func TestConcurrentReservationsDynalite(t *testing.T) {
	c := dynalite.Client(dynalite.Start(t))
	RunRace(t, func(tb testing.TB) store.Store {
		name := fmt.Sprintf("quota-%d", tables.Add(1))
		if err := dynamostore.CreateTable(context.Background(), c, name); err != nil {
			tb.Fatal(err)
		}
		if err := dynalite.WaitActive(context.Background(), c, name); err != nil {
			tb.Fatal(err)
		}
		s, err := dynamostore.New(c, name, dynamostore.WithClock(clock))
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}, true)
}
