package cellblob_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/blobtest"
	"github.com/plinth-ai/plinth/shared/blob/cellblob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
)

type silos map[string]blob.Store

func (s silos) Blobs(_ context.Context, t string) (blob.Store, error) { return s[t], nil }
func (s silos) Silos(context.Context) ([]string, error) {
	var out []string
	for t := range s {
		out = append(out, t)
	}
	return out, nil
}

func newFS(t *testing.T) *fsblob.Store {
	t.Helper()
	s, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return cellblob.New(newFS(t), silos{"acme": newFS(t)}, "tenants", "indexes")
	})
}

func TestRoutesByTenant(t *testing.T) {
	ctx := context.Background()
	central, acme := newFS(t), newFS(t)
	r := cellblob.New(central, silos{"acme": acme}, "tenants", "indexes")
	for _, key := range []string{"tenants/acme/kb/docs/a.txt", "indexes/acme/docs/seg1", "tenants/globex/kb/docs/b.txt", "reports/x.html"} {
		if _, err := r.Put(ctx, key, strings.NewReader(key), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	in := func(s blob.Store, key string) bool { _, err := s.Head(ctx, key); return err == nil }
	for _, key := range []string{"tenants/acme/kb/docs/a.txt", "indexes/acme/docs/seg1"} {
		if !in(acme, key) || in(central, key) {
			t.Errorf("%s is not in acme's cell alone", key)
		}
	}
	for _, key := range []string{"tenants/globex/kb/docs/b.txt", "reports/x.html"} {
		if !in(central, key) || in(acme, key) {
			t.Errorf("%s left the central store", key)
		}
	}
	rc, _, err := r.Get(ctx, "tenants/acme/kb/docs/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "tenants/acme/kb/docs/a.txt" {
		t.Errorf("read back %q", b)
	}
	objs, err := r.List(ctx, "tenants/")
	if err != nil || len(objs) != 2 || objs[0].Key != "tenants/acme/kb/docs/a.txt" {
		t.Errorf("a listing across cells: %v %v", objs, err)
	}
	objs, err = r.List(ctx, "indexes/acme/")
	if err != nil || len(objs) != 1 {
		t.Errorf("a tenant's listing: %v %v", objs, err)
	}
	if err := r.Delete(ctx, "indexes/acme/docs/seg1"); err != nil || in(acme, "indexes/acme/docs/seg1") {
		t.Errorf("delete from acme's cell: %v", err)
	}
}
