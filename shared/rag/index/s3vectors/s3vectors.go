// Package s3vectors keeps a knowledge base's dense vectors in Amazon S3 Vectors: one vector
// index per tenant and knowledge base inside one vector bucket. It implements
// index.VectorStore, so the embedded index keeps text, metadata and BM25 while S3 Vectors
// answers the semantic half of a search.
package s3vectors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors/document"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors/types"

	"github.com/plinth-ai/plinth/shared/rag/index"
)

// API is the part of the S3 Vectors client the store uses.
type API interface {
	CreateIndex(ctx context.Context, in *s3vectors.CreateIndexInput, opts ...func(*s3vectors.Options)) (*s3vectors.CreateIndexOutput, error)
	PutVectors(ctx context.Context, in *s3vectors.PutVectorsInput, opts ...func(*s3vectors.Options)) (*s3vectors.PutVectorsOutput, error)
	DeleteVectors(ctx context.Context, in *s3vectors.DeleteVectorsInput, opts ...func(*s3vectors.Options)) (*s3vectors.DeleteVectorsOutput, error)
	QueryVectors(ctx context.Context, in *s3vectors.QueryVectorsInput, opts ...func(*s3vectors.Options)) (*s3vectors.QueryVectorsOutput, error)
	DeleteIndex(ctx context.Context, in *s3vectors.DeleteIndexInput, opts ...func(*s3vectors.Options)) (*s3vectors.DeleteIndexOutput, error)
}

// Service limits.
const (
	maxPutBatch    = 500
	maxDeleteBatch = 500
	maxTopK        = 100
)

// Store is an index.VectorStore over one S3 vector bucket.
type Store struct {
	api    API
	bucket string

	mu      sync.Mutex
	created map[string]bool
}

var _ index.VectorStore = (*Store)(nil)

// New returns a Store writing indexes into the vector bucket.
func New(api API, bucket string) *Store {
	if api == nil || bucket == "" {
		panic("s3vectors: New needs a client and a vector bucket name")
	}
	return &Store{api: api, bucket: bucket, created: map[string]bool{}}
}

// IndexName is the vector index of a tenant's knowledge base: readable, within S3 Vectors'
// naming rules (3–63 lowercase letters, digits, '-' and '.'), and unique through a hash of
// the exact tenant and knowledge-base IDs.
func IndexName(ns index.Namespace) string {
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				b.WriteRune(r)
			} else {
				b.WriteByte('-')
			}
		}
		return b.String()
	}
	sum := sha256.Sum256([]byte(ns.Tenant + "\x00" + ns.KB))
	h := hex.EncodeToString(sum[:5])
	t, k := clean(ns.Tenant), clean(ns.KB)
	if len(t) > 20 {
		t = t[:20]
	}
	if len(k) > 28 {
		k = k[:28]
	}
	return "kb-" + t + "-" + k + "-" + h
}

func isNotFound(err error) bool {
	var nf *types.NotFoundException
	return errors.As(err, &nf)
}

func (s *Store) ensureIndex(ctx context.Context, name string, dim int) error {
	s.mu.Lock()
	done := s.created[name]
	s.mu.Unlock()
	if done {
		return nil
	}
	_, err := s.api.CreateIndex(ctx, &s3vectors.CreateIndexInput{
		VectorBucketName: aws.String(s.bucket), IndexName: aws.String(name),
		DataType: types.DataTypeFloat32, Dimension: aws.Int32(int32(dim)), DistanceMetric: types.DistanceMetricCosine,
	})
	var conflict *types.ConflictException
	if err != nil && !errors.As(err, &conflict) {
		return fmt.Errorf("create vector index %s: %w", name, err)
	}
	s.mu.Lock()
	s.created[name] = true
	s.mu.Unlock()
	return nil
}

// PutVectors writes vectors (in batches of 500), creating the index on first use.
func (s *Store) PutVectors(ctx context.Context, ns index.Namespace, vecs []index.Vector) error {
	if len(vecs) == 0 {
		return nil
	}
	name := IndexName(ns)
	if err := s.ensureIndex(ctx, name, len(vecs[0].Data)); err != nil {
		return err
	}
	for lo := 0; lo < len(vecs); lo += maxPutBatch {
		hi := min(lo+maxPutBatch, len(vecs))
		in := &s3vectors.PutVectorsInput{VectorBucketName: aws.String(s.bucket), IndexName: aws.String(name)}
		for _, v := range vecs[lo:hi] {
			pv := types.PutInputVector{Key: aws.String(v.Key), Data: &types.VectorDataMemberFloat32{Value: v.Data}}
			if len(v.Metadata) > 0 {
				pv.Metadata = document.NewLazyDocument(v.Metadata)
			}
			in.Vectors = append(in.Vectors, pv)
		}
		if _, err := s.api.PutVectors(ctx, in); err != nil {
			if isNotFound(err) {
				// The index was deleted behind our back: recreate it once.
				s.mu.Lock()
				delete(s.created, name)
				s.mu.Unlock()
				if err := s.ensureIndex(ctx, name, len(vecs[0].Data)); err != nil {
					return err
				}
				if _, err = s.api.PutVectors(ctx, in); err == nil {
					continue
				}
			}
			return fmt.Errorf("put vectors into %s: %w", name, err)
		}
	}
	return nil
}

// DeleteVectors removes vectors by key; a missing index means nothing to delete.
func (s *Store) DeleteVectors(ctx context.Context, ns index.Namespace, keys []string) error {
	name := IndexName(ns)
	for lo := 0; lo < len(keys); lo += maxDeleteBatch {
		hi := min(lo+maxDeleteBatch, len(keys))
		_, err := s.api.DeleteVectors(ctx, &s3vectors.DeleteVectorsInput{VectorBucketName: aws.String(s.bucket), IndexName: aws.String(name), Keys: keys[lo:hi]})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete vectors from %s: %w", name, err)
		}
	}
	return nil
}

// DropNamespace deletes the knowledge base's vector index.
func (s *Store) DropNamespace(ctx context.Context, ns index.Namespace) error {
	name := IndexName(ns)
	_, err := s.api.DeleteIndex(ctx, &s3vectors.DeleteIndexInput{VectorBucketName: aws.String(s.bucket), IndexName: aws.String(name)})
	s.mu.Lock()
	delete(s.created, name)
	s.mu.Unlock()
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete vector index %s: %w", name, err)
	}
	return nil
}

// QueryVectors returns the nearest neighbours (score = 1 - cosine distance). Filters S3
// Vectors cannot express (startsWith, stringContains) are left to the caller, which
// re-checks every hit; the query then asks for more neighbours to make up for them.
func (s *Store) QueryVectors(ctx context.Context, ns index.Namespace, vec []float32, topK int, filter *index.Filter) ([]index.VectorMatch, error) {
	name := IndexName(ns)
	in := &s3vectors.QueryVectorsInput{
		VectorBucketName: aws.String(s.bucket), IndexName: aws.String(name),
		QueryVector: &types.VectorDataMemberFloat32{Value: vec}, ReturnDistance: true,
	}
	k := topK
	if filter != nil {
		if doc, exact := TranslateFilter(filter); doc != nil {
			in.Filter = document.NewLazyDocument(doc)
			if !exact {
				k *= 4
			}
		} else {
			k *= 4
		}
	}
	in.TopK = aws.Int32(int32(min(max(k, 1), maxTopK)))
	out, err := s.api.QueryVectors(ctx, in)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query vectors in %s: %w", name, err)
	}
	res := make([]index.VectorMatch, 0, len(out.Vectors))
	for _, v := range out.Vectors {
		if v.Key == nil {
			continue
		}
		score := 0.0
		if v.Distance != nil {
			score = 1 - float64(*v.Distance)
		}
		res = append(res, index.VectorMatch{Key: *v.Key, Score: score})
	}
	return res, nil
}

// TranslateFilter turns a Bedrock-style filter into S3 Vectors' filter document. exact is
// false when parts had to be dropped (the document then matches a superset); a nil
// document means nothing could be translated.
func TranslateFilter(f *index.Filter) (doc map[string]any, exact bool) {
	if f == nil {
		return nil, true
	}
	cmp := func(c *index.Condition, op string) map[string]any {
		return map[string]any{c.Key: map[string]any{op: c.Value}}
	}
	switch {
	case f.Equals != nil:
		return cmp(f.Equals, "$eq"), true
	case f.NotEquals != nil:
		return cmp(f.NotEquals, "$ne"), true
	case f.In != nil:
		return cmp(f.In, "$in"), true
	case f.NotIn != nil:
		return cmp(f.NotIn, "$nin"), true
	case f.GreaterThan != nil:
		return cmp(f.GreaterThan, "$gt"), true
	case f.GreaterThanOrEquals != nil:
		return cmp(f.GreaterThanOrEquals, "$gte"), true
	case f.LessThan != nil:
		return cmp(f.LessThan, "$lt"), true
	case f.LessThanOrEquals != nil:
		return cmp(f.LessThanOrEquals, "$lte"), true
	case f.ListContains != nil:
		// $eq on a list attribute matches when any element equals the value.
		return cmp(f.ListContains, "$eq"), true
	case f.AndAll != nil:
		var parts []any
		exact = true
		for i := range f.AndAll {
			d, ex := TranslateFilter(&f.AndAll[i])
			exact = exact && ex
			if d != nil {
				parts = append(parts, d)
			}
		}
		switch len(parts) {
		case 0:
			return nil, false
		case 1:
			return parts[0].(map[string]any), exact
		}
		return map[string]any{"$and": parts}, exact
	case f.OrAll != nil:
		var parts []any
		for i := range f.OrAll {
			d, ex := TranslateFilter(&f.OrAll[i])
			if d == nil || !ex {
				// One untranslatable branch widens the OR to everything.
				return nil, false
			}
			parts = append(parts, d)
		}
		if len(parts) == 1 {
			return parts[0].(map[string]any), true
		}
		return map[string]any{"$or": parts}, true
	}
	return nil, false // startsWith, stringContains
}
