package store

import "context"

type ownerKey struct{}

// WithOwner returns ctx naming the tenant whose records the writes made with it are. A
// store that keeps tenants' records apart (package cellstore) places by it a write
// whose key and data do not name a tenant, such as the first items of a partition
// keyed by a generated ID; other stores ignore it.
func WithOwner(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, ownerKey{}, tenant)
}

// OwnerFrom returns the tenant WithOwner put in ctx, if any.
func OwnerFrom(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(ownerKey{}).(string)
	return t, ok
}

// Scanner is implemented by stores that can list their partitions (the embedded stores).
// Moving a tenant between cells finds its records with it; nothing on a request's path
// scans.
type Scanner interface {
	// Partitions returns the keys of every partition holding a live item whose key
	// starts with prefix, sorted.
	Partitions(ctx context.Context, prefix string) ([]string, error)
}
