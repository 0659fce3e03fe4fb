// Package blobtest is the contract suite of the blob port. Every adapter runs it:
//
//	func TestContract(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blob.Store { return newAdapter(t) })
//	}
//
// newStore must return an empty store. List is only required to describe Key, Size, ETag
// and LastModified (S3's ListObjectsV2 carries no content type or user metadata).
// User metadata keys are lower case, as S3 returns them.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
)

// Option adjusts the suite.
type Option func(*config)

type config struct {
	racers int
}

// WithRacers sets how many goroutines race on one IfNoneMatch key (default 16).
func WithRacers(n int) Option { return func(c *config) { c.racers = n } }

// Run runs the blob contract against stores built by newStore, one per subtest.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store, opts ...Option) {
	t.Helper()
	cfg := config{racers: 16}
	for _, o := range opts {
		o(&cfg)
	}
	s := &suite{newStore: newStore, cfg: cfg}
	t.Run("RoundTrip", s.roundTrip)
	t.Run("Missing", s.missing)
	t.Run("Overwrite", s.overwrite)
	t.Run("IfNoneMatch", s.ifNoneMatch)
	t.Run("IfNoneMatchRace", s.ifNoneMatchRace)
	t.Run("Delete", s.delete)
	t.Run("List", s.list)
	t.Run("ListMany", s.listMany)
}

type suite struct {
	newStore func(t *testing.T) blob.Store
	cfg      config
}

var ctx = context.Background()

func put(t *testing.T, st blob.Store, key string, body []byte, opts blob.PutOptions) blob.Object {
	t.Helper()
	obj, err := st.Put(ctx, key, bytes.NewReader(body), opts)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return obj
}

func get(t *testing.T, st blob.Store, key string) ([]byte, blob.Object) {
	t.Helper()
	rc, obj, err := st.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return body, obj
}

func wantMissing(t *testing.T, st blob.Store, key string) {
	t.Helper()
	if rc, _, err := st.Get(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		if err == nil {
			rc.Close()
		}
		t.Fatalf("Get(%q) = %v; want ErrNotFound", key, err)
	}
	if _, err := st.Head(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Head(%q) = %v; want ErrNotFound", key, err)
	}
}

// pattern returns n bytes covering every byte value.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return b
}

func recent(ts time.Time) bool {
	return !ts.IsZero() && time.Since(ts) < time.Hour && time.Until(ts) < time.Hour
}

func (s *suite) roundTrip(t *testing.T) {
	cases := []struct {
		name string
		key  string
		body []byte
		opts blob.PutOptions
	}{
		{"text", "tenants/acme/kb/docs/raw/report.txt", []byte("hello, world\n"), blob.PutOptions{ContentType: "text/plain; charset=utf-8"}},
		{"binary 1MiB+", "tenants/acme/index/seg-0001.bin", pattern(1<<20 + 13), blob.PutOptions{ContentType: "application/octet-stream"}},
		{"empty", "empty/object", []byte{}, blob.PutOptions{}},
		{"metadata", "tenants/acme/kb/docs/raw/a.json", []byte(`{"a":1}`), blob.PutOptions{
			ContentType: "application/json",
			Metadata:    map[string]string{"sha256": "abc123", "document-id": "doc-1", "source": "upload"},
		}},
		{"odd key", "tenants/acme/kb/docs/raw/Q3 report (final) é+%20.pdf", []byte("%PDF-1.7"), blob.PutOptions{ContentType: "application/pdf"}},
		{"top level", "top", []byte("x"), blob.PutOptions{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := s.newStore(t)
			obj := put(t, st, tc.key, tc.body, tc.opts)
			if obj.Key != tc.key || obj.Size != int64(len(tc.body)) || obj.ETag == "" {
				t.Fatalf("Put = %+v", obj)
			}
			body, got := get(t, st, tc.key)
			if !bytes.Equal(body, tc.body) {
				t.Fatalf("body differs: got %d bytes, want %d", len(body), len(tc.body))
			}
			head, err := st.Head(ctx, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			for name, o := range map[string]blob.Object{"Get": got, "Head": head} {
				if o.Key != tc.key || o.Size != int64(len(tc.body)) || o.ETag != obj.ETag || !recent(o.LastModified) {
					t.Errorf("%s = %+v; want key %q size %d etag %s", name, o, tc.key, len(tc.body), obj.ETag)
				}
				if tc.opts.ContentType != "" && o.ContentType != tc.opts.ContentType {
					t.Errorf("%s content type = %q, want %q", name, o.ContentType, tc.opts.ContentType)
				}
				if len(tc.opts.Metadata) > 0 && !reflect.DeepEqual(o.Metadata, tc.opts.Metadata) {
					t.Errorf("%s metadata = %v, want %v", name, o.Metadata, tc.opts.Metadata)
				}
				if len(tc.opts.Metadata) == 0 && len(o.Metadata) != 0 {
					t.Errorf("%s metadata = %v, want none", name, o.Metadata)
				}
			}
		})
	}
}

func (s *suite) missing(t *testing.T) {
	st := s.newStore(t)
	wantMissing(t, st, "no/such/key")
	put(t, st, "dir/file", []byte("x"), blob.PutOptions{})
	wantMissing(t, st, "dir")
	wantMissing(t, st, "dir/fil")
	if err := st.Delete(ctx, "no/such/key"); err != nil {
		t.Fatalf("Delete missing = %v", err)
	}
}

func (s *suite) overwrite(t *testing.T) {
	st := s.newStore(t)
	key := "over/write"
	first := put(t, st, key, []byte("first version"), blob.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"a": "1"}})
	second := put(t, st, key, []byte("second"), blob.PutOptions{ContentType: "application/json", Metadata: map[string]string{"b": "2"}})
	if first.ETag == second.ETag {
		t.Fatalf("ETag unchanged by new content: %s", first.ETag)
	}
	body, obj := get(t, st, key)
	if string(body) != "second" || obj.Size != 6 || obj.ETag != second.ETag || obj.ContentType != "application/json" ||
		!reflect.DeepEqual(obj.Metadata, map[string]string{"b": "2"}) {
		t.Fatalf("after overwrite: %q %+v", body, obj)
	}
	// The same content has the same ETag.
	again := put(t, st, "over/copy", []byte("second"), blob.PutOptions{})
	if again.ETag != second.ETag {
		t.Fatalf("same content, ETags %s and %s", again.ETag, second.ETag)
	}
}

func (s *suite) ifNoneMatch(t *testing.T) {
	st := s.newStore(t)
	key := "immutable/seg"
	obj := put(t, st, key, []byte("one"), blob.PutOptions{IfNoneMatch: true, Metadata: map[string]string{"v": "1"}})
	_, err := st.Put(ctx, key, strings.NewReader("two"), blob.PutOptions{IfNoneMatch: true, Metadata: map[string]string{"v": "2"}})
	if !errors.Is(err, blob.ErrPreconditionFailed) {
		t.Fatalf("second IfNoneMatch Put = %v; want ErrPreconditionFailed", err)
	}
	body, got := get(t, st, key)
	if string(body) != "one" || got.ETag != obj.ETag || got.Metadata["v"] != "1" {
		t.Fatalf("object changed by failed Put: %q %+v", body, got)
	}
	// After a delete the key is free again.
	if err := st.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	put(t, st, key, []byte("three"), blob.PutOptions{IfNoneMatch: true})
	if body, _ := get(t, st, key); string(body) != "three" {
		t.Fatalf("body = %q", body)
	}
}

func (s *suite) ifNoneMatchRace(t *testing.T) {
	st := s.newStore(t)
	n := s.cfg.racers
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := []string{}
	var unexpected []error
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := fmt.Sprintf("writer %d", i)
			_, err := st.Put(ctx, "race/key", strings.NewReader(body), blob.PutOptions{IfNoneMatch: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, body)
			case !errors.Is(err, blob.ErrPreconditionFailed):
				unexpected = append(unexpected, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("unexpected errors: %v", unexpected)
	}
	if len(winners) != 1 {
		t.Fatalf("%d IfNoneMatch writers succeeded, want 1", len(winners))
	}
	if body, _ := get(t, st, "race/key"); string(body) != winners[0] {
		t.Fatalf("body %q, winner wrote %q", body, winners[0])
	}
}

func (s *suite) delete(t *testing.T) {
	st := s.newStore(t)
	put(t, st, "d/one", []byte("1"), blob.PutOptions{Metadata: map[string]string{"m": "x"}})
	put(t, st, "d/two", []byte("2"), blob.PutOptions{})
	if err := st.Delete(ctx, "d/one"); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, st, "d/one")
	if err := st.Delete(ctx, "d/one"); err != nil {
		t.Fatalf("second Delete = %v", err)
	}
	objs, err := st.List(ctx, "d/")
	if err != nil || len(objs) != 1 || objs[0].Key != "d/two" {
		t.Fatalf("List after Delete = %+v, %v", objs, err)
	}
	// A re-created object does not inherit the deleted one's metadata.
	put(t, st, "d/one", []byte("new"), blob.PutOptions{})
	if _, obj := get(t, st, "d/one"); len(obj.Metadata) != 0 {
		t.Fatalf("metadata survived Delete: %v", obj.Metadata)
	}
}

func (s *suite) list(t *testing.T) {
	st := s.newStore(t)
	keys := []string{"docs/b/d.txt", "docs/a.txt", "docs/ba.txt", "docs/b-1.txt", "docsx.txt", "other/z.txt", "docs/b/c.txt", "docs/b/e/f.txt"}
	sizes := map[string]int{}
	etags := map[string]string{}
	for i, key := range keys {
		body := strings.Repeat("x", i+1)
		sizes[key] = len(body)
		etags[key] = put(t, st, key, []byte(body), blob.PutOptions{ContentType: "text/plain"}).ETag
	}
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", sorted},
		{"docs/", []string{"docs/a.txt", "docs/b-1.txt", "docs/b/c.txt", "docs/b/d.txt", "docs/b/e/f.txt", "docs/ba.txt"}},
		{"docs", []string{"docs/a.txt", "docs/b-1.txt", "docs/b/c.txt", "docs/b/d.txt", "docs/b/e/f.txt", "docs/ba.txt", "docsx.txt"}},
		{"docs/b", []string{"docs/b-1.txt", "docs/b/c.txt", "docs/b/d.txt", "docs/b/e/f.txt", "docs/ba.txt"}},
		{"docs/b/", []string{"docs/b/c.txt", "docs/b/d.txt", "docs/b/e/f.txt"}},
		{"docs/b/c", []string{"docs/b/c.txt"}},
		{"docs/b/c.txt", []string{"docs/b/c.txt"}},
		{"nothing/", []string{}},
		{"doc", append([]string{}, sorted[:7]...)},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("prefix %q", tc.prefix), func(t *testing.T) {
			objs, err := st.List(ctx, tc.prefix)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, o := range objs {
				got = append(got, o.Key)
				if o.Size != int64(sizes[o.Key]) || o.ETag != etags[o.Key] || !recent(o.LastModified) {
					t.Errorf("listed %+v; want size %d etag %s", o, sizes[o.Key], etags[o.Key])
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("List(%q) = %v; want %v", tc.prefix, got, tc.want)
			}
		})
	}
}

func (s *suite) listMany(t *testing.T) {
	st := s.newStore(t)
	var want []string
	for i := 0; i < 25; i++ {
		key := fmt.Sprintf("many/%02d/item", i)
		want = append(want, key)
		put(t, st, key, []byte{byte(i)}, blob.PutOptions{})
	}
	objs, err := st.List(ctx, "many/")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, o := range objs {
		got = append(got, o.Key)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %v; want %v", got, want)
	}
}
