// Package sealedblob is a blob.Store that encrypts every object with a data key before
// it reaches the blob store under it, bound to the object's key, and decrypts on read: a
// silo tenant's objects are sealed with its own key. Object keys, content types and user
// metadata stay readable to the store, and are served only while the data key is usable.
// An object that is not sealed, or cannot be opened (its key is disabled or deleted),
// fails the read loudly.
package sealedblob

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"maps"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/kms"
)

var _ blob.Store = (*Store)(nil)

// Sealer encrypts and decrypts values bound to additional data, and digests them
// (kms.DataKey).
type Sealer interface {
	Seal(ctx context.Context, plain, aad []byte) ([]byte, error)
	Open(ctx context.Context, sealed, aad []byte) ([]byte, error)
	Digest(ctx context.Context, data []byte) ([]byte, error)
	// Usable fails as Seal and Open would when the key cannot be used.
	Usable(ctx context.Context) error
}

// etagMeta keeps an object's ETag, a keyed digest of its plaintext: equal content has
// equal ETags, as in S3, though every sealing differs.
const etagMeta = "plinth-sealed-etag"

// Store seals the objects it keeps in the blob store under it.
type Store struct {
	bs blob.Store
	s  Sealer
}

// New returns bs with every object sealed by s.
func New(bs blob.Store, s Sealer) *Store {
	if bs == nil || s == nil {
		panic("sealedblob.New: nil blob store or sealer")
	}
	return &Store{bs: bs, s: s}
}

// describe turns the description of a sealed object into its plaintext's.
func describe(o blob.Object) blob.Object {
	o.Size = max(o.Size-kms.Overhead, 0)
	if tag, ok := o.Metadata[etagMeta]; ok {
		o.ETag = tag
		o.Metadata = maps.Clone(o.Metadata)
		delete(o.Metadata, etagMeta)
		if len(o.Metadata) == 0 {
			o.Metadata = nil
		}
	}
	return o
}

// Put seals the body and stores it.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, opts blob.PutOptions) (blob.Object, error) {
	plain, err := io.ReadAll(body)
	if err != nil {
		return blob.Object{}, err
	}
	sealed, err := s.s.Seal(ctx, plain, []byte(key))
	if err != nil {
		return blob.Object{}, fmt.Errorf("seal %s: %w", key, err)
	}
	digest, err := s.s.Digest(ctx, plain)
	if err != nil {
		return blob.Object{}, fmt.Errorf("seal %s: %w", key, err)
	}
	opts.Metadata = maps.Clone(opts.Metadata)
	if opts.Metadata == nil {
		opts.Metadata = map[string]string{}
	}
	opts.Metadata[etagMeta] = `"` + hex.EncodeToString(digest[:16]) + `"`
	obj, err := s.bs.Put(ctx, key, bytes.NewReader(sealed), opts)
	if err != nil {
		return obj, err
	}
	if obj.Metadata == nil {
		obj.Metadata = opts.Metadata
	}
	return describe(obj), nil
}

// Get reads and opens the object.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error) {
	rc, obj, err := s.bs.Get(ctx, key)
	if err != nil {
		return nil, obj, err
	}
	sealed, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, blob.Object{}, err
	}
	plain, err := s.s.Open(ctx, sealed, []byte(key))
	if err != nil {
		return nil, blob.Object{}, fmt.Errorf("open %s: %w", key, err)
	}
	return io.NopCloser(bytes.NewReader(plain)), describe(obj), nil
}

// Head describes the object.
func (s *Store) Head(ctx context.Context, key string) (blob.Object, error) {
	if err := s.s.Usable(ctx); err != nil {
		return blob.Object{}, fmt.Errorf("head %s: %w", key, err)
	}
	obj, err := s.bs.Head(ctx, key)
	if err != nil {
		return obj, err
	}
	return describe(obj), nil
}

// Delete removes the object.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.s.Usable(ctx); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return s.bs.Delete(ctx, key)
}

// List describes the objects under prefix (each one's ETag read with Head).
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Object, error) {
	if err := s.s.Usable(ctx); err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	objs, err := s.bs.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for i, o := range objs {
		full, err := s.bs.Head(ctx, o.Key)
		if err != nil {
			return nil, err
		}
		d := describe(full)
		d.ContentType, d.Metadata = o.ContentType, nil
		objs[i] = d
	}
	return objs, nil
}
