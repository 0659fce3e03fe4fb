// Package store is the platform's one persistence port: a key-value document store shaped
// like a DynamoDB single-table design. Every repository (registry, tenants, keys, quotas,
// usage, guardrail policies, knowledge bases, evaluation runs, flow executions) is built
// once on top of it; adapters exist for an embedded file store (local mode) and DynamoDB.
//
// Items live under a partition key (PK) and a sort key (SK). An item carries an opaque
// JSON document (Data), a set of numeric counters (Nums) that can be changed atomically
// with a bound check, a version for optimistic concurrency and an optional expiry. Expired
// items are invisible to every read even before the backend deletes them.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Adapters wrap them; callers test with errors.Is.
var (
	// ErrNotFound means no live (unexpired) item has the key.
	ErrNotFound = errors.New("store: item not found")
	// ErrConditionFailed means a conditional write's condition did not hold; nothing was written.
	ErrConditionFailed = errors.New("store: condition failed")
	// ErrTransactionConflict means a transaction was cancelled because one of its conditions failed.
	ErrTransactionConflict = errors.New("store: transaction cancelled")
)

// Key addresses one item.
type Key struct {
	PK string
	SK string
}

// Item is one stored record.
type Item struct {
	Key
	// Data is the entity as a JSON document (may be nil for counter-only items).
	Data []byte
	// Nums holds named numeric counters, updated atomically by Add.
	Nums map[string]float64
	// Version is incremented by every write; 0 means the item does not exist yet.
	Version int64
	// ExpiresAt, when non-zero, is the moment after which the item no longer exists for readers.
	ExpiresAt time.Time
}

// Expired reports whether the item is past its expiry at now.
func (it Item) Expired(now time.Time) bool {
	return !it.ExpiresAt.IsZero() && !now.Before(it.ExpiresAt)
}

// Cond is the condition of a conditional write.
type Cond int

const (
	// Always writes unconditionally.
	Always Cond = iota
	// IfNotExists writes only when no live item has the key.
	IfNotExists
	// IfExists writes only when a live item has the key.
	IfExists
	// IfVersion writes only when the live item's version equals PutOptions.Version
	// (Version 0 behaves like IfNotExists).
	IfVersion
)

// WriteOptions qualify Put and Delete.
type WriteOptions struct {
	Cond    Cond
	Version int64
}

// Delta is one counter change in an atomic Add.
type Delta struct {
	// Name of the counter.
	Name string
	// By is added to the counter (negative to subtract). A missing counter counts as 0.
	By float64
	// Max, when HasMax, makes the whole Add fail with ErrConditionFailed if the counter's
	// value after the change would exceed Max. Used for quota reservations: the check and
	// the increment are one atomic operation, so concurrent callers can never overshoot.
	Max    float64
	HasMax bool
}

// AddOptions qualify Add.
type AddOptions struct {
	// ExpiresAt, when non-zero, sets the item's expiry if the item is created by this Add
	// (and refreshes it otherwise). Quota windows use it so old windows disappear.
	ExpiresAt time.Time
	// Set, when non-nil, replaces the item's Data (e.g. to describe a counter item).
	Set []byte
}

// QueryOptions select and order items within one partition.
type QueryOptions struct {
	// Prefix keeps items whose SK starts with it.
	Prefix string
	// From and To bound SK inclusively when non-empty (applied together with Prefix).
	From, To string
	// Limit caps the number of items returned (0 = no limit).
	Limit int
	// Desc returns items in descending SK order.
	Desc bool
	// After resumes after this SK (exclusive), for pagination.
	After string
}

// OpKind is the kind of one transactional operation.
type OpKind int

const (
	// OpPut writes Item under Options.
	OpPut OpKind = iota
	// OpDelete removes Key under Options.
	OpDelete
	// OpAdd applies Deltas to Key.
	OpAdd
	// OpCheck only checks Options' condition on Key.
	OpCheck
)

// Op is one operation of a transaction.
type Op struct {
	Kind    OpKind
	Item    Item    // for OpPut
	Key     Key     // for OpDelete, OpAdd, OpCheck
	Deltas  []Delta // for OpAdd
	Add     AddOptions
	Options WriteOptions
}

// Store is the persistence port. All methods are safe for concurrent use, including from
// several processes sharing one backend (DynamoDB) where the adapter supports it.
type Store interface {
	// Get returns the live item with the key, or ErrNotFound.
	Get(ctx context.Context, key Key) (Item, error)
	// Put writes the item (Data and Nums replace what was there) if opts' condition holds,
	// returning the new version; else ErrConditionFailed.
	Put(ctx context.Context, item Item, opts WriteOptions) (int64, error)
	// Delete removes the item if opts' condition holds. Deleting a missing item with
	// Cond Always is not an error.
	Delete(ctx context.Context, key Key, opts WriteOptions) error
	// Add atomically applies every delta (creating the item if needed) and returns the item
	// after the change, or ErrConditionFailed (with nothing changed) if any bound would be
	// exceeded.
	Add(ctx context.Context, key Key, deltas []Delta, opts AddOptions) (Item, error)
	// Query returns live items of one partition in SK order.
	Query(ctx context.Context, pk string, opts QueryOptions) ([]Item, error)
	// Transact applies all ops atomically or none, failing with ErrTransactionConflict
	// (wrapping ErrConditionFailed) when any condition fails. At most 100 ops.
	Transact(ctx context.Context, ops []Op) error
}
