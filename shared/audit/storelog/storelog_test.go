package storelog_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/audit/audittest"
	"github.com/plinth-ai/plinth/shared/audit/storelog"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/test/dynalite"
)

func TestMemstore(t *testing.T) {
	audittest.RunLogContract(t, func(t *testing.T, now func() time.Time) audit.Log {
		return storelog.New(memstore.New(), storelog.WithClock(now))
	})
}

func TestBoltstore(t *testing.T) {
	audittest.RunLogContract(t, func(t *testing.T, now func() time.Time) audit.Log {
		st, err := boltstore.Open(filepath.Join(t.TempDir(), "audit.db"), boltstore.WithNoSync())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return storelog.New(st, storelog.WithClock(now))
	})
}

// TestDynamoDB runs the contract through the real AWS SDK client against minidyn's
// DynamoDB server, as the log runs in AWS.
func TestDynamoDB(t *testing.T) {
	audittest.RunLogContract(t, func(t *testing.T, now func() time.Time) audit.Log {
		srv := httptest.NewServer(miniserver.NewServer())
		t.Cleanup(srv.Close)
		c := dynalite.Client(srv.URL)
		if err := dynamostore.CreateTable(context.Background(), c, "plinth"); err != nil {
			t.Fatal(err)
		}
		st, err := dynamostore.New(c, "plinth")
		if err != nil {
			t.Fatal(err)
		}
		return storelog.New(st, storelog.WithClock(now))
	})
}
