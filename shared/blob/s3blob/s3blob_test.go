package s3blob_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/blobtest"
	"github.com/plinth-ai/plinth/shared/blob/s3blob"
)

// replacingBackend works around a gofakes3 gap: its PutObject carries the previous
// object's user metadata over to the new object, where S3 replaces all of it. An
// unconditional put therefore deletes the old object first. Conditional puts
// (If-None-Match) go straight to gofakes3, which checks the condition under its lock,
// so the IfNoneMatch race in the suite runs against the emulator's own check.
type replacingBackend struct{ gofakes3.Backend }

func (b replacingBackend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	if cond == nil || (cond.IfNoneMatch == nil && cond.IfMatch == nil) {
		if _, err := b.Backend.DeleteObject(bucket, key); err != nil {
			return gofakes3.PutObjectResult{}, err
		}
	}
	return b.Backend.PutObject(bucket, key, meta, input, size, cond)
}

var buckets atomic.Int64

// newFake starts gofakes3 (path-style) and returns a client for it.
func newFake(t *testing.T) *s3.Client {
	t.Helper()
	fake := gofakes3.New(replacingBackend{s3mem.New()})
	srv := httptest.NewServer(fake.Server())
	t.Cleanup(srv.Close)
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	})
}

func newBucket(t *testing.T, c *s3.Client) string {
	t.Helper()
	name := fmt.Sprintf("plinth-%d", buckets.Add(1))
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestContract(t *testing.T) {
	c := newFake(t)
	cases := []struct {
		name string
		opts []s3blob.Option
	}{
		{"default", nil},
		// A small page size makes List walk several ListObjectsV2 pages.
		{"paged with key prefix", []s3blob.Option{s3blob.WithListPageSize(3), s3blob.WithKeyPrefix("plinth/")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) blob.Store {
				s, err := s3blob.New(c, newBucket(t, c), tc.opts...)
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

func TestKeyPrefixIsolation(t *testing.T) {
	ctx := context.Background()
	c := newFake(t)
	bucket := newBucket(t, c)
	a, _ := s3blob.New(c, bucket, s3blob.WithKeyPrefix("a/"))
	b, _ := s3blob.New(c, bucket, s3blob.WithKeyPrefix("b/"))
	if _, err := a.Put(ctx, "doc", strings.NewReader("x"), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if objs, err := b.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Fatalf("other prefix lists %v, %v", objs, err)
	}
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/doc")})
	if err != nil || aws.ToInt64(out.ContentLength) != 1 {
		t.Fatalf("object not stored under its prefix: %v", err)
	}
}

func TestNonSeekableBody(t *testing.T) {
	ctx := context.Background()
	c := newFake(t)
	s, _ := s3blob.New(c, newBucket(t, c))
	body := strings.Repeat("0123456789", 1<<20) // 10 MiB, above the in-memory buffer
	if _, err := s.Put(ctx, "big", io.MultiReader(strings.NewReader(body)), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, obj, err := s.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != body || obj.Size != int64(len(body)) {
		t.Fatalf("read back %d bytes (size %d), %v; want %d", len(got), obj.Size, err, len(body))
	}
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	if _, err := s3blob.New(nil, "b"); err == nil {
		t.Error("New(nil client) succeeded")
	}
	if _, err := s3blob.New(&s3.Client{}, ""); err == nil {
		t.Error("New with empty bucket succeeded")
	}
}
