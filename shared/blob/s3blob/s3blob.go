// Package s3blob is the Amazon S3 adapter of the blob port. Objects live in one bucket,
// optionally under a key prefix. Put with IfNoneMatch sends If-None-Match: * so S3 itself
// refuses to overwrite; List pages through ListObjectsV2.
//
// Bodies that cannot seek are buffered (in memory up to 8 MiB, then in a temporary file)
// so the request can be signed and retried; objects above S3's 5 GiB single-PUT limit
// are out of scope.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/plinth-ai/plinth/shared/blob"
)

var _ blob.Store = (*Store)(nil)

// PutObjectAPI is the part of the S3 client Put uses.
type PutObjectAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// GetObjectAPI is the part of the S3 client Get uses.
type GetObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// HeadObjectAPI is the part of the S3 client Head uses.
type HeadObjectAPI interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// DeleteObjectAPI is the part of the S3 client Delete uses.
type DeleteObjectAPI interface {
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Client is every S3 operation the store uses; *s3.Client satisfies it.
type Client interface {
	PutObjectAPI
	GetObjectAPI
	HeadObjectAPI
	DeleteObjectAPI
	s3.ListObjectsV2APIClient
}

// Option configures New.
type Option func(*Store)

// WithKeyPrefix stores every key under prefix in the bucket (for example "plinth/");
// keys given to and returned by the store never include it.
func WithKeyPrefix(prefix string) Option { return func(s *Store) { s.prefix = prefix } }

// WithListPageSize sets ListObjectsV2's MaxKeys (default and maximum 1000).
func WithListPageSize(n int32) Option {
	return func(s *Store) {
		if n > 0 && n <= 1000 {
			s.pageSize = n
		}
	}
}

// Store is a blob.Store on an S3 bucket.
type Store struct {
	client   Client
	bucket   string
	prefix   string
	pageSize int32
}

// New returns a store on bucket through client.
func New(client Client, bucket string, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("s3blob: nil client")
	}
	if bucket == "" {
		return nil, errors.New("s3blob: empty bucket name")
	}
	s := &Store{client: client, bucket: bucket, pageSize: 1000}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// memLimit is how much of a non-seekable body Put buffers in memory.
const memLimit = 8 << 20

// seekable returns body as a ReadSeeker with its length, buffering it if needed; cleanup
// removes any temporary file.
func seekable(body io.Reader) (rs io.ReadSeeker, size int64, cleanup func(), err error) {
	cleanup = func() {}
	if rs, ok := body.(io.ReadSeeker); ok {
		cur, err := rs.Seek(0, io.SeekCurrent)
		if err == nil {
			var end int64
			if end, err = rs.Seek(0, io.SeekEnd); err == nil {
				_, err = rs.Seek(cur, io.SeekStart)
				return rs, end - cur, cleanup, err
			}
		}
	}
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, body, memLimit+1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, cleanup, err
	}
	if n <= memLimit {
		return bytes.NewReader(buf.Bytes()), n, cleanup, nil
	}
	f, err := os.CreateTemp("", "s3blob-*")
	if err != nil {
		return nil, 0, cleanup, err
	}
	cleanup = func() { f.Close(); os.Remove(f.Name()) }
	if size, err = io.Copy(f, io.MultiReader(&buf, body)); err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, func() {}, err
	}
	return f, size, cleanup, nil
}

// Put stores body under key. The returned Object has no LastModified (S3's PutObject
// does not report it); Head the key when it matters.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, opts blob.PutOptions) (blob.Object, error) {
	if key == "" {
		return blob.Object{}, errors.New("s3blob: put: empty key")
	}
	rs, size, cleanup, err := seekable(body)
	if err != nil {
		return blob.Object{}, fmt.Errorf("s3blob: put %s: read body: %w", key, err)
	}
	defer cleanup()
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.prefix + key),
		Body:          rs,
		ContentLength: aws.Int64(size),
		Metadata:      opts.Metadata,
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if opts.KMSKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(opts.KMSKeyID)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		if opts.IfNoneMatch && isPreconditionFailed(err) {
			err = blob.ErrPreconditionFailed
		}
		return blob.Object{}, fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	obj := blob.Object{Key: key, Size: size, ETag: aws.ToString(out.ETag), ContentType: opts.ContentType}
	if len(opts.Metadata) > 0 {
		obj.Metadata = make(map[string]string, len(opts.Metadata))
		for k, v := range opts.Metadata {
			obj.Metadata[strings.ToLower(k)] = v
		}
	}
	return obj, nil
}

// isPreconditionFailed recognises S3's answer to a failed If-None-Match: 412
// PreconditionFailed, or 409 ConditionalRequestConflict when a concurrent conditional
// write to the key is in flight (the key is being created by someone else).
func isPreconditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusPreconditionFailed || re.HTTPStatusCode() == http.StatusConflict)
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
		return true
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

func lowerKeys(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// Get returns the object's body (the caller closes it) and its description.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if isNotFound(err) {
			err = blob.ErrNotFound
		}
		return nil, blob.Object{}, fmt.Errorf("s3blob: get %s: %w", key, err)
	}
	return out.Body, blob.Object{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
		ContentType:  aws.ToString(out.ContentType),
		Metadata:     lowerKeys(out.Metadata),
	}, nil
}

// Head describes the object.
func (s *Store) Head(ctx context.Context, key string) (blob.Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if isNotFound(err) {
			err = blob.ErrNotFound
		}
		return blob.Object{}, fmt.Errorf("s3blob: head %s: %w", key, err)
	}
	return blob.Object{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
		ContentType:  aws.ToString(out.ContentType),
		Metadata:     lowerKeys(out.Metadata),
	}, nil
}

// Delete removes the object; deleting a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("s3blob: delete %s: %w", key, err)
	}
	return nil
}

// List returns the objects whose keys start with prefix, in key order. Listed objects
// carry no content type or metadata (ListObjectsV2 does not return them).
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Object, error) {
	out := []blob.Object{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(s.prefix + prefix),
		MaxKeys: aws.Int32(s.pageSize),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3blob: list %q: %w", prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, blob.Object{
				Key:          strings.TrimPrefix(aws.ToString(o.Key), s.prefix),
				Size:         aws.ToInt64(o.Size),
				ETag:         aws.ToString(o.ETag),
				LastModified: aws.ToTime(o.LastModified),
			})
		}
	}
	return out, nil
}
