// Package storelog keeps the audit log on the platform's store port: the embedded store
// locally, the DynamoDB table in AWS. Each event is written once under its day
// (AUDIT#D#YYYYMMDD) and, when it has one, under its tenant (AUDIT#T#tenant), both with
// a condition that the item does not exist, in one transaction: the log is append-only
// (there is no update or delete path) and an event is never half written. Events never
// expire. Sort keys are event IDs, which sort by time, so queries read newest first.
package storelog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/store"
)

const (
	pkDay    = "AUDIT#D#"
	pkTenant = "AUDIT#T#"
	// DefaultWindow is how far back a query without a start looks (CloudTrail's event
	// history keeps the same 90 days).
	DefaultWindow = 90 * 24 * time.Hour
	defaultLimit  = 100
	// pageSize is how many items one store query reads while filtering.
	pageSize = 200
)

// Log is an audit.Log on a store.
type Log struct {
	st  store.Store
	now func() time.Time
}

var _ audit.Log = (*Log)(nil)

// Option configures a Log.
type Option func(*Log)

// WithClock sets the clock that ends queries without an end (default time.Now).
func WithClock(now func() time.Time) Option { return func(l *Log) { l.now = now } }

// New returns a Log on st.
func New(st store.Store, opts ...Option) *Log {
	if st == nil {
		panic("storelog.New: nil store")
	}
	l := &Log{st: st, now: time.Now}
	for _, f := range opts {
		f(l)
	}
	return l
}

// Append writes e under its day and tenant; ErrExists if its ID is already there.
func (l *Log) Append(ctx context.Context, e audit.Event) error {
	if e.ID == "" {
		e.ID = audit.NewID(e.Time)
	}
	if err := e.Validate(); err != nil {
		return err
	}
	e.Time = e.Time.UTC()
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit event %s: %w", e.ID, err)
	}
	put := func(pk string) store.Op {
		return store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: pk, SK: e.ID}, Data: data},
			Options: store.WriteOptions{Cond: store.IfNotExists}}
	}
	ops := []store.Op{put(pkDay + e.Time.Format("20060102"))}
	if e.Tenant != "" {
		ops = append(ops, put(pkTenant+e.Tenant))
	}
	if len(ops) == 1 {
		_, err = l.st.Put(ctx, ops[0].Item, ops[0].Options)
	} else {
		err = l.st.Transact(ctx, ops)
	}
	if errors.Is(err, store.ErrConditionFailed) {
		return fmt.Errorf("audit event %s: %w", e.ID, audit.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", e.ID, err)
	}
	return nil
}

// Query reads the tenant's partition when q names a tenant, else the day partitions from
// q.End back to q.Start (default: the last DefaultWindow), newest first.
func (l *Log) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	if q.End.IsZero() {
		q.End = l.now().UTC().Add(time.Nanosecond)
	}
	if q.Start.IsZero() {
		q.Start = q.End.Add(-DefaultWindow)
	}
	if !q.Start.Before(q.End) {
		return audit.Page{}, fmt.Errorf("start must be before end: %w", audit.ErrInvalid)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, audit.MaxLimit)
	from := idAt(q.Start)
	to := idAt(q.End.Add(-time.Nanosecond)) + "~" // every ID of the last nanosecond
	after := ""
	if q.Cursor != "" {
		if !cursorValid(q.Cursor) {
			return audit.Page{}, fmt.Errorf("cursor %q: %w", q.Cursor, audit.ErrInvalid)
		}
		after = q.Cursor
	}

	var page audit.Page
	scan := func(pk string) (full bool, err error) {
		opts := store.QueryOptions{From: from, To: to, Desc: true, After: after, Limit: pageSize}
		for {
			items, err := l.st.Query(ctx, pk, opts)
			if err != nil {
				return false, fmt.Errorf("query audit log: %w", err)
			}
			for _, it := range items {
				var e audit.Event
				if err := json.Unmarshal(it.Data, &e); err != nil {
					return false, fmt.Errorf("decode audit event %s: %w", it.SK, err)
				}
				if !q.Matches(e) {
					continue
				}
				page.Events = append(page.Events, e)
				if len(page.Events) == limit {
					page.NextCursor = e.ID
					return true, nil
				}
			}
			if len(items) < pageSize {
				return false, nil
			}
			opts.After = items[len(items)-1].SK
		}
	}
	if q.Tenant != "" {
		if _, err := scan(pkTenant + q.Tenant); err != nil {
			return audit.Page{}, err
		}
		return page, nil
	}
	startDay := q.Start.UTC().Truncate(24 * time.Hour)
	day := q.End.Add(-time.Nanosecond).UTC().Truncate(24 * time.Hour)
	if after != "" {
		if t, ok := idTime(after); ok && t.Before(day.Add(24*time.Hour)) {
			day = t.UTC().Truncate(24 * time.Hour)
		}
	}
	for ; !day.Before(startDay); day = day.Add(-24 * time.Hour) {
		full, err := scan(pkDay + day.Format("20060102"))
		if err != nil || full {
			return page, err
		}
	}
	return page, nil
}

// idAt is the smallest event ID at t.
func idAt(t time.Time) string { return fmt.Sprintf("evt_%016x", uint64(t.UnixNano())) }

// idTime is the time encoded in an event ID.
func idTime(id string) (time.Time, bool) {
	var ns uint64
	if _, err := fmt.Sscanf(id, "evt_%016x", &ns); err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(ns)), true
}

func cursorValid(c string) bool {
	_, ok := idTime(c)
	return ok && len(c) == len("evt_")+24
}
