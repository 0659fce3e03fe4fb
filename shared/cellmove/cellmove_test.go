package cellmove_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/cellmove"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/cellstore"
	"github.com/plinth-ai/plinth/shared/store/memstore"
)

func layout(t *testing.T) *cellstore.Layout {
	l, err := cellstore.NewLayout(cellstore.Central(),
		cellstore.Rule{PK: "QUOTA#", Place: cellstore.TenantInPK()},
		cellstore.Rule{PK: "RAGDOC#", Place: cellstore.TenantInPK()},
		cellstore.Rule{PK: "EVAL#SUITES", Place: cellstore.TenantInSK("SUITE#")},
		cellstore.Rule{PK: "EVAL#RUN#", Place: cellstore.OwnedBy("tenant")},
		cellstore.Rule{PK: "REVIEWQ#", Place: cellstore.OwnedBy("tenant").ListedIn("REVIEWQ")},
		cellstore.Rule{PK: "REVIEWQ", Place: cellstore.OwnedBy("tenant")},
		cellstore.Rule{PK: "GUARDRAIL#", Place: cellstore.OwnedOrShared("tenant")},
	)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type world struct {
	pool, silo, central  *memstore.Store
	poolBlobs, siloBlobs blob.Store
	acme                 map[store.Key]string // acme's records and their data
	acmeBlobs            map[string]string
	others               []store.Key
}

// seed gives tenants acme (moving) and globex records of every placement, and objects.
func seed(t *testing.T) *world {
	ctx := context.Background()
	w := &world{pool: memstore.New(), silo: memstore.New(), central: memstore.New(), acme: map[store.Key]string{}, acmeBlobs: map[string]string{}}
	var err error
	if w.poolBlobs, err = fsblob.New(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if w.siloBlobs, err = fsblob.New(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	put := func(tenant string, key store.Key, data string) {
		if _, err := w.pool.Put(ctx, store.Item{Key: key, Data: []byte(data), Nums: map[string]float64{"n": 1}}, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if tenant == "acme" {
			w.acme[key] = data
		} else {
			w.others = append(w.others, key)
		}
	}
	for _, tn := range []string{"acme", "globex"} {
		for i := range 30 {
			put(tn, store.Key{PK: "RAGDOC#" + tn + "#docs", SK: fmt.Sprintf("doc%02d", i)}, fmt.Sprintf(`{"n":%d}`, i))
		}
		put(tn, store.Key{PK: "QUOTA#" + tn, SK: "D#1"}, "")
		put(tn, store.Key{PK: "EVAL#SUITES", SK: "SUITE#" + tn + "#qa"}, `{}`)
		put(tn, store.Key{PK: "EVAL#RUN#run-" + tn, SK: "META"}, `{"tenant":"`+tn+`"}`)
		for i := range 5 {
			put(tn, store.Key{PK: "EVAL#RUN#run-" + tn, SK: fmt.Sprintf("ITEM#%d", i)}, `{"score":1}`)
		}
		put(tn, store.Key{PK: "REVIEWQ", SK: "rq-" + tn}, `{"tenant":"`+tn+`"}`)
		put(tn, store.Key{PK: "REVIEWQ#rq-" + tn, SK: "ITEM#1"}, `{"input":"q"}`)
		put(tn, store.Key{PK: "GUARDRAIL#" + tn + "-policy", SK: "META"}, `{"tenant":"`+tn+`"}`)
		for i := range 12 {
			key := fmt.Sprintf("tenants/%s/kb/docs/%02d.txt", tn, i)
			if _, err := w.poolBlobs.Put(ctx, key, strings.NewReader(tn+key), blob.PutOptions{ContentType: "text/plain"}); err != nil {
				t.Fatal(err)
			}
			if tn == "acme" {
				w.acmeBlobs[key] = tn + key
			}
		}
	}
	put("", store.Key{PK: "GUARDRAIL#shared", SK: "META"}, `{"name":"shared"}`)
	put("", store.Key{PK: "TENANTS", SK: "acme"}, `{"id":"acme"}`)
	return w
}

func (w *world) move(t *testing.T, switched *int, checkpointed func(cellmove.State) error) *cellmove.Move {
	return &cellmove.Move{Tenant: "acme", From: "pool", To: "silo", Layout: layout(t), Source: w.pool, Dest: w.silo, State: w.central,
		Blobs:  []cellmove.Blobs{{From: w.poolBlobs, To: w.siloBlobs, Prefixes: []string{"tenants/acme/"}}},
		Switch: func(context.Context) error { *switched++; return nil }, Batch: 7, Checkpointed: checkpointed}
}

// check: acme's records and objects are all in the silo, exactly, and none in the pool;
// the others are untouched.
func (w *world) check(t *testing.T) {
	ctx := context.Background()
	for key, data := range w.acme {
		got, err := w.silo.Get(ctx, key)
		if err != nil || string(got.Data) != data || got.Nums["n"] != 1 {
			t.Errorf("silo %v: %q %v", key, got.Data, err)
		}
		if _, err := w.pool.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("pool still holds %v", key)
		}
	}
	for _, key := range w.others {
		if _, err := w.pool.Get(ctx, key); err != nil {
			t.Errorf("pool lost %v: %v", key, err)
		}
		if _, err := w.silo.Get(ctx, key); err == nil {
			t.Errorf("silo holds another's %v", key)
		}
	}
	all, _ := w.silo.Partitions(ctx, "")
	n := 0
	for _, pk := range all {
		items, _ := w.silo.Query(ctx, pk, store.QueryOptions{})
		n += len(items)
	}
	if n != len(w.acme) {
		t.Errorf("silo holds %d records, want %d", n, len(w.acme))
	}
	for key, body := range w.acmeBlobs {
		rc, _, err := w.siloBlobs.Get(ctx, key)
		if err != nil {
			t.Errorf("silo object %s: %v", key, err)
			continue
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != body {
			t.Errorf("silo object %s = %q", key, b)
		}
		if _, err := w.poolBlobs.Head(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("pool still holds object %s", key)
		}
	}
	if objs, _ := w.poolBlobs.List(ctx, "tenants/globex/"); len(objs) != 12 {
		t.Errorf("pool holds %d of globex's objects", len(objs))
	}
}

func TestMove(t *testing.T) {
	w := seed(t)
	switched := 0
	s, err := w.move(t, &switched, nil).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Phase != cellmove.PhaseDone || switched != 1 || s.Records != int64(len(w.acme)) || s.Blobs != 12 || s.Stragglers != 0 {
		t.Fatalf("state %+v, switched %d", s, switched)
	}
	w.check(t)
	// Run again: done, nothing changes.
	again, err := w.move(t, &switched, nil).Run(context.Background())
	if err != nil || again.Phase != cellmove.PhaseDone || switched != 1 {
		t.Fatalf("rerun: %+v %v", again, err)
	}
}

// A move stopped after every number of checkpoints resumes to the same end: nothing
// lost, nothing copied twice into the count, the switch made before any deletion.
func TestMoveStoppedAnywhereResumes(t *testing.T) {
	errCrash := errors.New("crash")
	total := 0
	{
		w := seed(t)
		switched := 0
		if _, err := w.move(t, &switched, func(cellmove.State) error { total++; return nil }).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for stopAt := 1; stopAt < total; stopAt++ {
		t.Run(fmt.Sprint("stopped at checkpoint ", stopAt), func(t *testing.T) {
			w := seed(t)
			switched, n := 0, 0
			s, err := w.move(t, &switched, func(s cellmove.State) error {
				if n++; n == stopAt {
					return errCrash
				}
				return nil
			}).Run(context.Background())
			if !errors.Is(err, errCrash) {
				t.Fatalf("the first run: %v", err)
			}
			if s.Phase != cellmove.PhaseCleanup && switched > 0 {
				t.Fatalf("switched before cleanup, in %s", s.Phase)
			}
			s, err = w.move(t, &switched, nil).Run(context.Background())
			if err != nil || s.Phase != cellmove.PhaseDone || s.Runs != 2 {
				t.Fatalf("resumed: %+v %v", s, err)
			}
			if s.Records != int64(len(w.acme)) || s.Blobs != 12 {
				t.Errorf("counted %d records and %d objects, want %d and 12", s.Records, s.Blobs, len(w.acme))
			}
			w.check(t)
		})
	}
}

// A record written to the old cell after it was copied is copied before its old copy
// is deleted.
func TestLateWritesAreNotLost(t *testing.T) {
	w := seed(t)
	switched := 0
	late := store.Key{PK: "EVAL#RUN#run-acme", SK: "ITEM#9"}
	m := w.move(t, &switched, func(s cellmove.State) error {
		if s.Phase == cellmove.PhaseCleanup && s.RecordsDeleted == 0 {
			_, err := w.pool.Put(context.Background(), store.Item{Key: late, Data: []byte(`{"late":true}`)}, store.WriteOptions{})
			return err
		}
		return nil
	})
	s, err := m.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := w.silo.Get(context.Background(), late); err != nil || string(got.Data) != `{"late":true}` || s.Stragglers != 1 {
		t.Fatalf("the late item: %q %v; stragglers %d", got.Data, err, s.Stragglers)
	}
}
