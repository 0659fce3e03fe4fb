// Package blob is the object-storage port (Amazon S3 in AWS, a directory locally): documents
// uploaded to knowledge bases, index segments, evaluation datasets and reports.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound means no object has the key.
var ErrNotFound = errors.New("blob: object not found")

// ErrPreconditionFailed means a conditional put found an existing object.
var ErrPreconditionFailed = errors.New("blob: precondition failed")

// Object describes a stored object.
type Object struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
	ContentType  string
	Metadata     map[string]string
}

// PutOptions qualify Put.
type PutOptions struct {
	ContentType string
	Metadata    map[string]string
	// IfNoneMatch makes Put fail with ErrPreconditionFailed when the key exists
	// (S3's If-None-Match: *), so immutable objects are never overwritten.
	IfNoneMatch bool
	// KMSKeyID, when set, encrypts the object with that KMS key (S3 SSE-KMS), e.g. a
	// tenant's own key; stores without server-side encryption (the local directory)
	// ignore it.
	KMSKeyID string
}

// Store is the blob port. Keys are slash-separated paths such as
// "tenants/acme/kb/docs/raw/report.pdf". Writes are atomic: a reader sees the whole
// object or none of it.
type Store interface {
	Put(ctx context.Context, key string, body io.Reader, opts PutOptions) (Object, error)
	// Get returns the object's body (the caller closes it) and its description.
	Get(ctx context.Context, key string) (io.ReadCloser, Object, error)
	Head(ctx context.Context, key string) (Object, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the objects whose keys start with prefix, in key order.
	List(ctx context.Context, prefix string) ([]Object, error)
}
