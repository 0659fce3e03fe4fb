package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	minidyn "github.com/truora/minidyn/aws-v2/client"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/store/storetest"
	"github.com/plinth-ai/plinth/test/dynalite"
)

var tables atomic.Int64

func newTable(t *testing.T, c dynamostore.CreateTableAPI) string {
	t.Helper()
	name := fmt.Sprintf("plinth-%d", tables.Add(1))
	if err := dynamostore.CreateTable(context.Background(), c, name); err != nil {
		t.Fatal(err)
	}
	return name
}

func newStore(t *testing.T, c dynamostore.Client, table string) store.Store {
	t.Helper()
	s, err := dynamostore.New(c, table)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestContractMinidyn runs the suite on minidyn's in-process client, which implements
// the DynamoDB API interface directly (no HTTP). minidyn has no TTL API and no
// TableStatus, so no waiters; expiry is filtered on read as in production.
//
// Emulator gap: the in-process client's DeleteItem evaluates a ConditionExpression by
// searching the table instead of against the addressed item, so a conditional delete of a
// missing item always fails (its HTTP server and real DynamoDB evaluate it against the
// empty item). fixedDeleteClient routes conditional deletes through a one-item
// TransactWriteItems, which minidyn evaluates correctly.
func TestContractMinidyn(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		c := fixedDeleteClient{minidyn.NewClient()}
		return newStore(t, c, newTable(t, c))
	})
}

type fixedDeleteClient struct{ *minidyn.Client }

func (c fixedDeleteClient) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if in.ConditionExpression == nil {
		return c.Client.DeleteItem(ctx, in, optFns...)
	}
	_, err := c.Client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
		Delete: &types.Delete{
			TableName: in.TableName, Key: in.Key, ConditionExpression: in.ConditionExpression,
			ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues,
		},
	}}})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) == 1 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
		return nil, &types.ConditionalCheckFailedException{Message: tce.Message}
	}
	if err != nil {
		return nil, err
	}
	return &dynamodb.DeleteItemOutput{}, nil
}

// TestContractMinidynServer runs the suite through the real SDK client against minidyn's
// HTTP server, exercising the wire format and error mapping end to end.
func TestContractMinidynServer(t *testing.T) {
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	c := dynalite.Client(srv.URL)
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t, c, newTable(t, c))
	})
}

// TestScannerMinidynServer: Partitions lists a table's live partitions with a consistent
// Scan through the real SDK client, on the wire.
func TestScannerMinidynServer(t *testing.T) {
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	c := dynalite.Client(srv.URL)
	storetest.RunScanner(t, func(t *testing.T) store.Store {
		return newStore(t, c, newTable(t, c))
	})
}

// TestContractDynalite runs the suite against the dynalite server (npm, under test/tools).
// dynalite has no TransactWriteItems, so the Transact cases are disabled with
// storetest.WithoutTransactions; everything else runs. A missing dynalite fails the test.
func TestContractDynalite(t *testing.T) {
	c := dynalite.Client(dynalite.Start(t))
	storetest.Run(t, func(t *testing.T) store.Store {
		table := newTable(t, c)
		if err := dynalite.WaitActive(context.Background(), c, table); err != nil {
			t.Fatal(err)
		}
		return newStore(t, c, table)
	}, storetest.WithoutTransactions())
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	if _, err := dynamostore.New(nil, "t"); err == nil {
		t.Error("New(nil client) succeeded")
	}
	if _, err := dynamostore.New(minidyn.NewClient(), ""); err == nil {
		t.Error("New with empty table succeeded")
	}
}

var _ dynamostore.Client = (*dynamodb.Client)(nil)

// TestTableLayout pins the attribute layout other tools rely on: the CDK table's TTL
// attribute, counters readable by name, data as binary.
func TestTableLayout(t *testing.T) {
	ctx := context.Background()
	c := minidyn.NewClient()
	table := newTable(t, c)
	s := newStore(t, c, table)
	exp := time.Unix(1_900_000_000, 250_000_000)
	key := store.Key{PK: "quota#acme", SK: "minute#1"}
	if _, err := s.Add(ctx, key, []store.Delta{{Name: "tokens", By: 1.5}}, store.AddOptions{ExpiresAt: exp, Set: []byte(`{"w":1}`)}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: key.PK}, "sk": &types.AttributeValueMemberS{Value: key.SK},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]types.AttributeValue{
		"pk":       &types.AttributeValueMemberS{Value: key.PK},
		"sk":       &types.AttributeValueMemberS{Value: key.SK},
		"v":        &types.AttributeValueMemberN{Value: "1"},
		"data":     &types.AttributeValueMemberB{Value: []byte(`{"w":1}`)},
		"ttl":      &types.AttributeValueMemberN{Value: "1900000001"},
		"exp":      &types.AttributeValueMemberN{Value: "1900000000250000000"},
		"n_tokens": &types.AttributeValueMemberN{Value: "1.5"},
	}
	if len(out.Item) != len(want) {
		t.Fatalf("item has %d attributes, want %d: %v", len(out.Item), len(want), out.Item)
	}
	for name, w := range want {
		if !reflect.DeepEqual(out.Item[name], w) {
			t.Errorf("attribute %s = %#v, want %#v", name, out.Item[name], w)
		}
	}
}

// interferingClient lets another writer change the store just before the first
// TransactWriteItems or PutItem goes out, as a concurrent process would.
type interferingClient struct {
	fixedDeleteClient
	before func()
}

func (c *interferingClient) interfere() {
	if f := c.before; f != nil {
		c.before = nil
		f()
	}
}

func (c *interferingClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.interfere()
	return c.fixedDeleteClient.TransactWriteItems(ctx, in, optFns...)
}

func (c *interferingClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.interfere()
	return c.fixedDeleteClient.PutItem(ctx, in, optFns...)
}

// TestOptimisticRetry checks that a write pinned to what it read starts over when
// another writer changed the item in between, and that no update is lost.
func TestOptimisticRetry(t *testing.T) {
	ctx := context.Background()
	key := store.Key{PK: "p", SK: "counter"}
	inc := []store.Delta{{Name: "n", By: 1}}
	cases := []struct {
		name  string
		write func(s store.Store) error
		want  func(t *testing.T, it store.Item)
	}{
		{"transact", func(s store.Store) error {
			return s.Transact(ctx, []store.Op{{Kind: store.OpAdd, Key: key, Deltas: []store.Delta{{Name: "n", By: 10}}}})
		}, func(t *testing.T, it store.Item) {
			if it.Nums["n"] != 12 || it.Version != 3 {
				t.Fatalf("item = %+v; want n 12 (1 + 1 + 10), version 3", it)
			}
		}},
		{"put always", func(s store.Store) error {
			_, err := s.Put(ctx, store.Item{Key: key, Data: []byte(`"mine"`)}, store.WriteOptions{})
			return err
		}, func(t *testing.T, it store.Item) {
			if string(it.Data) != `"mine"` || it.Version != 3 {
				t.Fatalf("item = %+v; want my data at version 3", it)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &interferingClient{fixedDeleteClient: fixedDeleteClient{minidyn.NewClient()}}
			s := newStore(t, c, newTable(t, c))
			if _, err := s.Add(ctx, key, inc, store.AddOptions{}); err != nil {
				t.Fatal(err)
			}
			c.before = func() {
				if _, err := s.Add(ctx, key, inc, store.AddOptions{}); err != nil {
					t.Error(err)
				}
			}
			if err := tc.write(s); err != nil {
				t.Fatal(err)
			}
			if c.before != nil {
				t.Fatal("the interfering write did not run")
			}
			it, err := s.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			tc.want(t, it)
		})
	}
}

// countingClient counts the reads and transactions a store makes.
type countingClient struct {
	dynamostore.Client
	gets, transacts atomic.Int64
}

func (c *countingClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.Client.GetItem(ctx, in, optFns...)
}

func (c *countingClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.transacts.Add(1)
	return c.Client.TransactWriteItems(ctx, in, optFns...)
}

// A transaction of counter Adds (a quota reservation) is one TransactWriteItems of
// conditional updates with no read first, whatever its items hold; a bound it would pass
// or an expired item falls back to reading, and answers as before.
func TestTransactOfAddsWritesWithoutReading(t *testing.T) {
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	base := dynalite.Client(srv.URL)
	c := &countingClient{Client: base}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s, err := dynamostore.New(c, newTable(t, base), dynamostore.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	day, month := store.Key{PK: "QUOTA#acme", SK: "D#20261125"}, store.Key{PK: "QUOTA#acme", SK: "M#202611"}
	reserve := func(by, max float64) []store.Op {
		return []store.Op{
			{Kind: store.OpAdd, Key: day, Deltas: []store.Delta{{Name: "r:1000", By: 1, Max: 3, HasMax: true}, {Name: "tok", By: by}},
				Add: store.AddOptions{ExpiresAt: now.Add(time.Hour)}},
			{Kind: store.OpAdd, Key: month, Deltas: []store.Delta{{Name: "tok", By: by, Max: max, HasMax: true}}},
		}
	}
	for i := range 2 {
		if err := s.Transact(ctx, reserve(100, 1000)); err != nil {
			t.Fatalf("reservation %d: %v", i, err)
		}
	}
	if g, tr := c.gets.Load(), c.transacts.Load(); g != 0 || tr != 2 {
		t.Errorf("two reservations made %d reads and %d transactions, want 0 and 2", g, tr)
	}
	d, err := s.Get(ctx, day)
	if err != nil || d.Nums["r:1000"] != 2 || d.Nums["tok"] != 200 || d.Version != 2 || !d.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("day item %+v, %v", d, err)
	}

	// Over the month's bound: refused as a failed condition, nothing written.
	c.gets.Store(0)
	err = s.Transact(ctx, reserve(900, 1000))
	if !errors.Is(err, store.ErrTransactionConflict) || !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("over a bound: %v", err)
	}
	if c.gets.Load() == 0 {
		t.Error("a refusal was not read back to say which condition failed")
	}
	if d, _ := s.Get(ctx, day); d.Nums["r:1000"] != 2 || d.Version != 2 {
		t.Errorf("a refused transaction changed the day item: %+v", d)
	}

	// Past the day item's expiry its counters restart from zero.
	now = now.Add(2 * time.Hour)
	if err := s.Transact(ctx, reserve(5, 1000)); err != nil {
		t.Fatalf("over an expired item: %v", err)
	}
	if d, err := s.Get(ctx, day); err != nil || d.Nums["r:1000"] != 1 || d.Nums["tok"] != 5 {
		t.Errorf("after expiry: %+v, %v", d, err)
	}
	if m, err := s.Get(ctx, month); err != nil || m.Nums["tok"] != 205 {
		t.Errorf("month item: %+v, %v", m, err)
	}
}
