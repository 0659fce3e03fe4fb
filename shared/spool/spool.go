// Package spool is what the platform's durable spools share. A spool keeps records
// that must never be lost (usage records for the billing ledger, audit events for the
// audit log) between the request that made them and the store they belong in: Append
// returns only once a record survives the process, and a drainer writes it to its Sink
// with retries for as long as it takes. Sinks are idempotent (conditional writes keyed
// by the record's ID), so the at-least-once delivery of a drainer counts exactly once.
//
// Adapters: filespool keeps records on local disk (the local platform), sqsspool in an
// SQS queue with a dead-letter queue (AWS). Both carry any JSON-encodable record type.
package spool

import (
	"context"
	"errors"
)

// Spool keeps records durably until their sink has them.
type Spool[T any] interface {
	// Append stores items durably, or fails: once it returns nil, the items will reach
	// the sink, exactly once, whatever happens to this process.
	Append(ctx context.Context, items []T) error
}

// Sink writes drained items to where they belong. It must be idempotent: writing an
// item again (a retry, a replay after a crash, a redelivered message) changes nothing.
// An error makes the drainer retry the batch; when the error has an Unstored method
// (Partial), only the items it names.
type Sink[T any] func(ctx context.Context, items []T) error

// Partial is implemented by a Sink's error that names the items it could not store;
// the others are stored.
type Partial[T any] interface {
	Unstored() []T
}

// Unstored returns the items of batch a Sink that failed with err did not store: the
// ones err names when it (or an error it wraps) is a Partial, else the whole batch.
func Unstored[T any](batch []T, err error) []T {
	var p Partial[T]
	if errors.As(err, &p) {
		return p.Unstored()
	}
	return batch
}
