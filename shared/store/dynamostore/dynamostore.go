// Package dynamostore is the DynamoDB adapter of the store port: one table with a string
// partition key "pk" and sort key "sk" (single-table design). Each item stores Data as
// binary "data", the version as "v", counters as "n_<name>" numbers, and the expiry both
// exactly ("exp", Unix ns, used by reads) and as the table's TTL attribute ("ttl", epoch
// seconds) so DynamoDB removes expired items in the background.
//
// Add is one UpdateItem with ADD and a condition per bounded counter, so concurrent
// reservations never overshoot. Puts whose condition needs the current version (Always,
// IfExists) and transactions read first and write with a condition pinning what they
// read, retrying when another writer got in between. Reads filter expired items.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/internal/itemrules"
)

var _ store.Store = (*Store)(nil)

// GetItemAPI is the part of the DynamoDB client Get uses.
type GetItemAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// PutItemAPI is the part of the DynamoDB client Put uses.
type PutItemAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// DeleteItemAPI is the part of the DynamoDB client Delete uses.
type DeleteItemAPI interface {
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// UpdateItemAPI is the part of the DynamoDB client Add uses.
type UpdateItemAPI interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// QueryAPI is the part of the DynamoDB client Query uses.
type QueryAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// TransactWriteItemsAPI is the part of the DynamoDB client Transact uses.
type TransactWriteItemsAPI interface {
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Client is every DynamoDB operation the store uses; *dynamodb.Client satisfies it.
type Client interface {
	GetItemAPI
	PutItemAPI
	DeleteItemAPI
	UpdateItemAPI
	QueryAPI
	TransactWriteItemsAPI
}

// Option configures New.
type Option func(*Store)

// WithClock sets the clock used to decide expiry (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithMaxAttempts bounds the optimistic retries of Put, Add and Transact when other
// writers keep changing the same items (default 8).
func WithMaxAttempts(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.attempts = n
		}
	}
}

// Store is a store.Store on one DynamoDB table.
type Store struct {
	db       Client
	table    string
	now      func() time.Time
	attempts int
}

// New returns a store on table through client.
func New(client Client, table string, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("dynamostore: nil client")
	}
	if table == "" {
		return nil, errors.New("dynamostore: empty table name")
	}
	s := &Store{db: client, table: table, now: time.Now, attempts: 8}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

func isCondFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// backoff waits a little before optimistic retry attempt i (0-based).
func backoff(ctx context.Context, i int) error {
	d := time.Duration(1<<min(i, 6)) * time.Millisecond
	t := time.NewTimer(d/2 + rand.N(d))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// read returns the stored item with key, expired or not, or nil when there is none.
func (s *Store) read(ctx context.Context, key store.Key) (*store.Item, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            keyAttrs(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	it, err := decodeItem(out.Item)
	if err != nil {
		return nil, err
	}
	return &it, nil
}

// liveOnly returns cur when it is live at now, else nil.
func liveOnly(cur *store.Item, now time.Time) *store.Item {
	if cur == nil || cur.Expired(now) {
		return nil
	}
	return cur
}

// Get returns the live item with the key, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key store.Key) (store.Item, error) {
	cur, err := s.read(ctx, key)
	if err != nil {
		return store.Item{}, fmt.Errorf("dynamostore: get %s/%s: %w", key.PK, key.SK, err)
	}
	if cur = liveOnly(cur, s.now()); cur == nil {
		return store.Item{}, fmt.Errorf("dynamostore: get %s/%s: %w", key.PK, key.SK, store.ErrNotFound)
	}
	return *cur, nil
}

// Put writes the item if opts' condition holds and returns its new version.
func (s *Store) Put(ctx context.Context, item store.Item, opts store.WriteOptions) (int64, error) {
	v, err := s.put(ctx, item, opts)
	if err != nil {
		return 0, fmt.Errorf("dynamostore: put %s/%s: %w", item.PK, item.SK, err)
	}
	return v, nil
}

func (s *Store) put(ctx context.Context, item store.Item, opts store.WriteOptions) (int64, error) {
	// Conditions that fix the new version need no read: one conditional PutItem.
	switch {
	case opts.Cond == store.IfNotExists || (opts.Cond == store.IfVersion && opts.Version == 0):
		e := newExpr()
		return 1, s.putOnce(ctx, item, 1, e, e.absent(s.now()))
	case opts.Cond == store.IfVersion:
		e := newExpr()
		cond := fmt.Sprintf("%s = %s AND %s", e.name(AttrVersion), e.value(nInt(opts.Version)), e.live(s.now()))
		return opts.Version + 1, s.putOnce(ctx, item, opts.Version+1, e, cond)
	case opts.Cond != store.Always && opts.Cond != store.IfExists:
		return 0, fmt.Errorf("unknown condition %d", opts.Cond)
	}
	// Always and IfExists continue the current version: read, then write pinned to it.
	for i := 0; ; i++ {
		cur, err := s.read(ctx, item.Key)
		if err != nil {
			return 0, err
		}
		now := s.now()
		live := liveOnly(cur, now)
		if err := itemrules.CheckCond(live, opts); err != nil {
			return 0, err
		}
		e := newExpr()
		err = s.putOnce(ctx, item, itemrules.Version(live)+1, e, e.unchanged(cur))
		if !errors.Is(err, store.ErrConditionFailed) {
			return itemrules.Version(live) + 1, err
		}
		if i+1 >= s.attempts {
			return 0, fmt.Errorf("item kept changing after %d attempts: %w", s.attempts, err)
		}
		if err := backoff(ctx, i); err != nil {
			return 0, err
		}
	}
}

// putOnce writes item with version ver under cond, mapping a failed condition to
// store.ErrConditionFailed.
func (s *Store) putOnce(ctx context.Context, item store.Item, ver int64, e *expr, cond string) error {
	item.Version = ver
	av, err := encodeItem(item)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      av,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.attrNames(),
		ExpressionAttributeValues: e.attrValues(),
	})
	if isCondFailed(err) {
		return fmt.Errorf("%w", store.ErrConditionFailed)
	}
	return err
}

// Delete removes the item if opts' condition holds.
func (s *Store) Delete(ctx context.Context, key store.Key, opts store.WriteOptions) error {
	in := &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: keyAttrs(key)}
	e := newExpr()
	now := s.now()
	switch {
	case opts.Cond == store.Always:
	case opts.Cond == store.IfExists:
		in.ConditionExpression = aws.String(e.live(now))
	case opts.Cond == store.IfNotExists || (opts.Cond == store.IfVersion && opts.Version == 0):
		in.ConditionExpression = aws.String(e.absent(now))
	case opts.Cond == store.IfVersion:
		in.ConditionExpression = aws.String(fmt.Sprintf("%s = %s AND %s", e.name(AttrVersion), e.value(nInt(opts.Version)), e.live(now)))
	default:
		return fmt.Errorf("dynamostore: delete %s/%s: unknown condition %d", key.PK, key.SK, opts.Cond)
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.attrNames(), e.attrValues()
	_, err := s.db.DeleteItem(ctx, in)
	if isCondFailed(err) {
		err = store.ErrConditionFailed
	}
	if err != nil {
		return fmt.Errorf("dynamostore: delete %s/%s: %w", key.PK, key.SK, err)
	}
	return nil
}

// Add atomically applies deltas and returns the item after the change.
func (s *Store) Add(ctx context.Context, key store.Key, deltas []store.Delta, opts store.AddOptions) (store.Item, error) {
	it, err := s.add(ctx, key, deltas, opts)
	if err != nil {
		return store.Item{}, fmt.Errorf("dynamostore: add %s/%s: %w", key.PK, key.SK, err)
	}
	return it, nil
}

func (s *Store) add(ctx context.Context, key store.Key, deltas []store.Delta, opts store.AddOptions) (store.Item, error) {
	seen := make(map[string]bool, len(deltas))
	for _, d := range deltas {
		if err := checkNum(d.Name, d.By); err != nil {
			return store.Item{}, err
		}
		if seen[d.Name] {
			return store.Item{}, fmt.Errorf("counter %q appears twice", d.Name)
		}
		seen[d.Name] = true
	}
	for i := 0; ; i++ {
		it, err := s.addOnce(ctx, key, deltas, opts)
		if !errors.Is(err, store.ErrConditionFailed) {
			return it, err
		}
		// The condition failed: a bound would be exceeded, or the stored item is expired
		// (its counters must restart from zero, which ADD cannot do). Read to tell which.
		cur, rerr := s.read(ctx, key)
		if rerr != nil {
			return store.Item{}, rerr
		}
		now := s.now()
		if live := liveOnly(cur, now); live != nil {
			if _, aerr := itemrules.ApplyAdd(key, live, deltas, opts); aerr != nil {
				return store.Item{}, aerr
			}
			// The bounds hold on what is stored now: the item changed in between; retry.
		} else if cur != nil {
			// Replace the expired item by a fresh one, pinned to the expired state.
			next, aerr := itemrules.ApplyAdd(key, nil, deltas, opts)
			if aerr != nil {
				return store.Item{}, aerr
			}
			e := newExpr()
			perr := s.putOnce(ctx, next, 1, e, e.unchanged(cur))
			if perr == nil {
				next.Version = 1
				return next, nil
			}
			if !errors.Is(perr, store.ErrConditionFailed) {
				return store.Item{}, perr
			}
		} else if _, aerr := itemrules.ApplyAdd(key, nil, deltas, opts); aerr != nil {
			return store.Item{}, aerr
		}
		if i+1 >= s.attempts {
			return store.Item{}, fmt.Errorf("item kept changing after %d attempts: %w", s.attempts, store.ErrConditionFailed)
		}
		if err := backoff(ctx, i); err != nil {
			return store.Item{}, err
		}
	}
}

// addOnce is one UpdateItem: ADD every delta, bump the version, set data and expiry, on
// condition that the item is live or absent and every bound holds.
func (s *Store) addOnce(ctx context.Context, key store.Key, deltas []store.Delta, opts store.AddOptions) (store.Item, error) {
	e := newExpr()
	update, cond, err := addExpr(e, deltas, opts, s.now())
	if err != nil {
		return store.Item{}, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       keyAttrs(key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.attrNames(),
		ExpressionAttributeValues: e.attrValues(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	if isCondFailed(err) {
		return store.Item{}, store.ErrConditionFailed
	}
	if err != nil {
		return store.Item{}, err
	}
	return decodeItem(out.Attributes)
}

// addExpr is an Add as an update and its condition: ADD every delta, bump the version,
// set data and expiry, on condition that the item is live at now or absent and every
// bound holds.
func addExpr(e *expr, deltas []store.Delta, opts store.AddOptions, now time.Time) (update, cond string, err error) {
	v := e.name(AttrVersion)
	set := fmt.Sprintf("%s = if_not_exists(%s, %s) + %s", v, v, e.value(nInt(0)), e.value(nInt(1)))
	if opts.Set != nil {
		if len(opts.Set) > 0 {
			set += fmt.Sprintf(", %s = %s", e.name(AttrData), e.value(&types.AttributeValueMemberB{Value: opts.Set}))
		}
	}
	if !opts.ExpiresAt.IsZero() {
		set += fmt.Sprintf(", %s = %s, %s = %s",
			e.name(AttrExpires), e.value(nInt(opts.ExpiresAt.UnixNano())),
			e.name(AttrTTL), e.value(nInt(ttlSeconds(opts.ExpiresAt))))
	}
	update = "SET " + set
	if opts.Set != nil && len(opts.Set) == 0 {
		update += " REMOVE " + e.name(AttrData)
	}
	exp := e.name(AttrExpires)
	cond = fmt.Sprintf("(attribute_not_exists(%s) OR attribute_not_exists(%s) OR %s > %s)",
		e.name(AttrPK), exp, exp, e.value(nInt(now.UnixNano())))
	var adds string
	for _, d := range deltas {
		name := e.name(CounterPrefix + d.Name)
		if adds != "" {
			adds += ", "
		}
		adds += fmt.Sprintf("%s %s", name, e.value(nFloat(d.By)))
		if d.HasMax {
			room := d.Max - d.By
			if err := checkNum(d.Name, room); err != nil {
				return "", "", err
			}
			if room >= 0 {
				cond += fmt.Sprintf(" AND (attribute_not_exists(%s) OR %s <= %s)", name, name, e.value(nFloat(room)))
			} else {
				cond += fmt.Sprintf(" AND %s <= %s", name, e.value(nFloat(room)))
			}
		}
	}
	if adds != "" {
		update += " ADD " + adds
	}
	return update, cond, nil
}

// transactAdds runs a transaction of Adds alone (quota reservations and reconciliations,
// on every gateway request) as Add runs one: one TransactWriteItems of conditional
// Updates, with no read before it and carrying the deltas rather than whole items (a
// quota day item holds a counter per minute of the day). done is false when it could not
// decide, having written nothing: the ops are not all valid Adds of distinct keys and
// counters, or the transaction was cancelled (a bound failed, an expired item's counters
// must restart, which ADD cannot do, or another writer interfered); the general path then
// reads the items and decides.
func (s *Store) transactAdds(ctx context.Context, ops []store.Op) (done bool, err error) {
	if len(ops) == 0 || len(ops) > itemrules.MaxTransactOps {
		return false, nil
	}
	if _, rep := itemrules.RepeatedKey(ops); rep {
		return false, nil
	}
	now := s.now()
	items := make([]types.TransactWriteItem, 0, len(ops))
	for _, op := range ops {
		if op.Kind != store.OpAdd || len(op.Deltas) == 0 {
			return false, nil
		}
		for i, d := range op.Deltas {
			if checkNum(d.Name, d.By) != nil {
				return false, nil
			}
			for _, p := range op.Deltas[:i] {
				if p.Name == d.Name {
					return false, nil
				}
			}
		}
		e := newExpr()
		update, cond, err := addExpr(e, op.Deltas, op.Add, now)
		if err != nil {
			return false, nil
		}
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.table), Key: keyAttrs(op.Key), UpdateExpression: aws.String(update),
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
		}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return false, nil
	}
	return true, err
}

// Query returns live items of partition pk selected by opts, in SK order.
func (s *Store) Query(ctx context.Context, pk string, opts store.QueryOptions) ([]store.Item, error) {
	out, err := s.query(ctx, pk, opts)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: query %s: %w", pk, err)
	}
	return out, nil
}

func (s *Store) query(ctx context.Context, pk string, opts store.QueryOptions) ([]store.Item, error) {
	out := []store.Item{}
	r := itemrules.SKRange{O: opts}
	// The key condition selects the tightest range DynamoDB can express; the exact
	// selection (prefix with bounds, exclusive After) is finished here.
	lo := r.Start()
	hi := opts.To
	if opts.Desc && opts.After != "" && (hi == "" || opts.After < hi) {
		hi = opts.After
	}
	if opts.Prefix != "" {
		if pe := itemrules.PrefixEnd(opts.Prefix); pe != "" && (hi == "" || pe < hi) {
			hi = pe
		}
	}
	e := newExpr()
	sk := AttrSK // a name DynamoDB does not reserve
	kc := fmt.Sprintf("%s = %s", e.name(AttrPK), e.value(attrS(pk)))
	switch {
	case lo == opts.Prefix && lo != "" && hi == itemrules.PrefixEnd(opts.Prefix):
		kc += fmt.Sprintf(" AND begins_with(%s, %s)", sk, e.value(attrS(opts.Prefix)))
	case lo != "" && hi != "":
		if lo > hi {
			return out, nil
		}
		kc += fmt.Sprintf(" AND %s BETWEEN %s AND %s", sk, e.value(attrS(lo)), e.value(attrS(hi)))
	case lo != "":
		kc += fmt.Sprintf(" AND %s >= %s", sk, e.value(attrS(lo)))
	case hi != "":
		kc += fmt.Sprintf(" AND %s <= %s", sk, e.value(attrS(hi)))
	}
	now := s.now()
	exp := e.name(AttrExpires)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String(kc),
		FilterExpression:       aws.String(fmt.Sprintf("attribute_not_exists(%s) OR %s > %s", exp, exp, e.value(nInt(now.UnixNano())))),
		ScanIndexForward:       aws.Bool(!opts.Desc),
		ConsistentRead:         aws.Bool(true),
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.attrNames(), e.attrValues()
	if opts.Limit > 0 {
		in.Limit = aws.Int32(int32(min(opts.Limit+1, 1000)))
	}
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, av := range page.Items {
			it, err := decodeItem(av)
			if err != nil {
				return nil, err
			}
			if r.Past(it.SK) {
				return out, nil
			}
			if !r.Match(it.SK) || it.Expired(now) {
				continue
			}
			out = append(out, it)
			if opts.Limit > 0 && len(out) >= opts.Limit {
				return out, nil
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Transact applies ops atomically or not at all. A transaction of counter Adds alone is
// first tried as one TransactWriteItems of conditional updates, as Add does for one item
// (see transactAdds). Otherwise, or when that is cancelled, it reads every item the ops
// touch, decides every condition on what it read, and writes all results in one
// TransactWriteItems whose conditions pin each item to the state that was read; if
// another writer changed one in between, it starts over.
func (s *Store) Transact(ctx context.Context, ops []store.Op) error {
	if err := s.transact(ctx, ops); err != nil {
		return fmt.Errorf("dynamostore: transact: %w", err)
	}
	return nil
}

func (s *Store) transact(ctx context.Context, ops []store.Op) error {
	if len(ops) == 0 {
		return nil
	}
	if done, err := s.transactAdds(ctx, ops); done {
		return err
	}
	for i := 0; ; i++ {
		raw := make(map[store.Key]*store.Item, len(ops))
		var readErr error
		now := s.now()
		writes, err := itemrules.PlanTransact(ops, func(k store.Key) *store.Item {
			cur, err := s.read(ctx, k)
			if err != nil && readErr == nil {
				readErr = err
			}
			raw[k] = cur
			return liveOnly(cur, now)
		})
		if readErr != nil {
			return readErr
		}
		if err != nil {
			return err
		}
		items := make([]types.TransactWriteItem, 0, len(ops))
		written := make(map[store.Key]bool, len(writes))
		for _, w := range writes {
			written[w.Key] = true
			e := newExpr()
			cond := e.unchanged(raw[w.Key])
			if w.Item == nil {
				items = append(items, types.TransactWriteItem{Delete: &types.Delete{
					TableName: aws.String(s.table), Key: keyAttrs(w.Key), ConditionExpression: aws.String(cond),
					ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
				}})
				continue
			}
			av, err := encodeItem(*w.Item)
			if err != nil {
				return err
			}
			items = append(items, types.TransactWriteItem{Put: &types.Put{
				TableName: aws.String(s.table), Item: av, ConditionExpression: aws.String(cond),
				ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
			}})
		}
		// Keys only checked must not change either.
		for k, cur := range raw {
			if written[k] {
				continue
			}
			e := newExpr()
			items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
				TableName: aws.String(s.table), Key: keyAttrs(k), ConditionExpression: aws.String(e.unchanged(cur)),
				ExpressionAttributeNames: e.attrNames(), ExpressionAttributeValues: e.attrValues(),
			}})
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return err
		}
		if !retryable(tce) {
			return fmt.Errorf("%w: %w", store.ErrTransactionConflict, err)
		}
		if i+1 >= s.attempts {
			// Contention, not a failed condition: the caller may retry the transaction.
			return fmt.Errorf("%w: items kept changing after %d attempts", store.ErrTransactionConflict, s.attempts)
		}
		if err := backoff(ctx, i); err != nil {
			return err
		}
	}
}

// retryable reports whether a cancellation came only from pinned conditions or
// concurrent transactions, so starting over can succeed.
func retryable(tce *types.TransactionCanceledException) bool {
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "", "None", "ConditionalCheckFailed", "TransactionConflict":
		default:
			return false
		}
	}
	return true
}

// ScanAPI is the part of the DynamoDB client Partitions uses.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ store.Scanner = (*Store)(nil)

// Partitions returns the partition keys starting with prefix that hold a live item,
// sorted: a consistent Scan of the whole table reading only keys and expiry, for
// operations that walk every partition (moving a tenant between cells), never a
// request's path. The client must also implement ScanAPI.
func (s *Store) Partitions(ctx context.Context, prefix string) ([]string, error) {
	sc, ok := s.db.(ScanAPI)
	if !ok {
		return nil, fmt.Errorf("dynamostore: partitions: the client %T cannot scan", s.db)
	}
	e := newExpr()
	exp := e.name(AttrExpires)
	filter := fmt.Sprintf("(attribute_not_exists(%s) OR %s > %s)", exp, exp, e.value(nInt(s.now().UnixNano())))
	if prefix != "" {
		filter += fmt.Sprintf(" AND begins_with(%s, %s)", e.name(AttrPK), e.value(attrS(prefix)))
	}
	in := &dynamodb.ScanInput{
		TableName:            aws.String(s.table),
		ProjectionExpression: aws.String(e.name(AttrPK)),
		FilterExpression:     aws.String(filter),
		ConsistentRead:       aws.Bool(true),
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.attrNames(), e.attrValues()
	seen := map[string]bool{}
	for {
		page, err := sc.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("dynamostore: partitions: %w", err)
		}
		for _, item := range page.Items {
			if pk, ok := item[AttrPK].(*types.AttributeValueMemberS); ok {
				seen[pk.Value] = true
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	out := make([]string, 0, len(seen))
	for pk := range seen {
		out = append(out, pk)
	}
	slices.Sort(out)
	return out, nil
}
