package cellmove_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/blob/sealedblob"
	"github.com/plinth-ai/plinth/shared/cellmove"
	"github.com/plinth-ai/plinth/shared/kms"
	"github.com/plinth-ai/plinth/shared/kms/filekms"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/cellstore"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/store/sealedstore"
)

// BenchmarkMove moves a tenant of 5,000 records (documents' records of 400 bytes in 50
// partitions, as a knowledge base's are) and 200 objects of 4 KiB from one embedded
// store and blob root into a sealed cell like the local platform's (bbolt without
// fsync, AES-GCM under a file-kept key), with another tenant's data beside it: copy,
// verify, switch and cleanup. items/s counts records and objects moved.
func BenchmarkMove(b *testing.B) {
	ctx := context.Background()
	l, err := cellstore.NewLayout(cellstore.Central(), cellstore.Rule{PK: "RAGDOC#", Place: cellstore.TenantInPK()})
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 4096)
	data := []byte(`{"text":"` + strings.Repeat("y", 384) + `"}`)
	var items int64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		src, err := boltstore.Open(filepath.Join(dir, "pool.db"), boltstore.WithNoSync())
		if err != nil {
			b.Fatal(err)
		}
		dstBolt, err := boltstore.Open(filepath.Join(dir, "silo.db"), boltstore.WithNoSync())
		if err != nil {
			b.Fatal(err)
		}
		km, _ := filekms.New(filepath.Join(dir, "kms"))
		id, _ := km.CreateKey(ctx, "acme")
		_, wrapped, _ := km.GenerateDataKey(ctx, id, nil)
		key := kms.NewDataKey(km, id, wrapped, nil)
		poolBlobs, _ := fsblob.New(filepath.Join(dir, "blobs"))
		siloFS, _ := fsblob.New(filepath.Join(dir, "silo-blobs"))
		for _, tn := range []string{"acme", "globex"} {
			for p := range 50 {
				ops := make([]store.Op, 0, 100)
				for r := range 100 {
					ops = append(ops, store.Op{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: fmt.Sprintf("RAGDOC#%s#kb%02d", tn, p), SK: fmt.Sprintf("doc%03d", r)}, Data: data}})
				}
				if err := src.Transact(ctx, ops); err != nil {
					b.Fatal(err)
				}
			}
			for o := range 200 {
				if _, err := poolBlobs.Put(ctx, fmt.Sprintf("tenants/%s/kb/docs/%03d.txt", tn, o), strings.NewReader(body), blob.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		m := &cellmove.Move{Tenant: "acme", Layout: l, Source: src, Dest: sealedstore.New(dstBolt, key), State: memstore.New(),
			Blobs:  []cellmove.Blobs{{From: poolBlobs, To: sealedblob.New(siloFS, key), Prefixes: []string{"tenants/acme/"}}},
			Switch: func(context.Context) error { return nil }, Batch: 25}
		b.StartTimer()
		start := time.Now()
		st, err := m.Run(ctx)
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil || st.Records != 5000 || st.Blobs != 200 {
			b.Fatalf("%+v %v", st, err)
		}
		items += st.Items()
		_ = src.Close()
		_ = dstBolt.Close()
	}
	b.ReportMetric(float64(items)/elapsed.Seconds(), "items/s")
}
