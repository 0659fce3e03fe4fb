// Command benchrag measures Plinth's retrieval quality and speed: it ingests the SciFact
// corpus, scores nDCG@10 and Recall@100 of LEXICAL, SEMANTIC and HYBRID search against the
// published BM25 figures, and times retrieval, cold loads and memory.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/local"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/test/datasets"
)

func main() {
	var (
		split  = flag.String("split", "train", "query split: train or test")
		dim    = flag.Int("dim", local.DefaultDimensions, "local-embed dimensions")
		sweep  = flag.Bool("sweep", false, "also print BM25 and fusion variants")
		synth  = flag.Int("synthetic", 100000, "rows of the synthetic latency index (0 skips it)")
		limitQ = flag.Int("queries", 0, "score only the first N queries (0 = all)")
		limitD = flag.Int("docs", 0, "ingest only the first N documents (0 = all; scores are then meaningless)")
		prof   = flag.String("cpuprofile", "", "write a CPU profile to this file")
		work   = flag.Int("workers", 4, "ingestion executions running at once")
		only   = flag.Bool("synthetic-only", false, "run only the synthetic latency benchmark")
	)
	flag.Parse()
	maxDocs, workers, syntheticOnly = *limitD, max(*work, 1), *only
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchrag:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "benchrag:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*split, *dim, *sweep, *synth, *limitQ); err != nil {
		fmt.Fprintln(os.Stderr, "benchrag:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

var (
	maxDocs, workers int
	syntheticOnly    bool
)

type embedFunc func(ctx context.Context, texts []string) ([][]float32, error)

func localEmbedder(dim int) embedFunc {
	m := local.NewEmbed(dim)
	return func(ctx context.Context, texts []string) ([][]float32, error) {
		resp, err := m.Embed(ctx, &provider.EmbeddingRequest{Input: texts})
		if err != nil {
			return nil, err
		}
		out := make([][]float32, len(resp.Data))
		for i, d := range resp.Data {
			out[i] = d.Embedding
		}
		return out, nil
	}
}

func run(split string, dim int, sweep bool, synth, limitQ int) error {
	ctx := context.Background()
	dir, err := datasets.Path("retrieval", "scifact")
	if err != nil {
		return err
	}
	ds, err := loadDataset(dir, split)
	if err != nil {
		return err
	}
	if maxDocs > 0 && maxDocs < len(ds.ids) {
		ds.ids, ds.titles, ds.texts = ds.ids[:maxDocs], ds.titles[:maxDocs], ds.texts[:maxDocs]
	}
	if limitQ > 0 && limitQ < len(ds.qids) {
		ds.qids = ds.qids[:limitQ]
	}
	tmp, err := os.MkdirTemp("", "benchrag-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bs, err := fsblob.New(filepath.Join(tmp, "blob"))
	if err != nil {
		return err
	}
	emb := localEmbedder(dim)
	embModel := local.NewEmbed(dim)
	svc := rag.NewService(memstore.New(), bs, index.NewManager(bs, index.WithRefreshInterval(-1)),
		rag.WithEmbedder(rag.EmbedderFunc(func(ctx context.Context, texts []string, inputType string) ([][]float32, error) {
			resp, err := embModel.Embed(ctx, &provider.EmbeddingRequest{Input: texts, InputType: inputType})
			if err != nil {
				return nil, err
			}
			out := make([][]float32, len(resp.Data))
			for i, d := range resp.Data {
				out[i] = d.Embedding
			}
			return out, nil
		})))
	if _, err := svc.CreateKnowledgeBase(ctx, rag.KnowledgeBase{Tenant: "bench", ID: "scifact"}); err != nil {
		return err
	}

	if syntheticOnly {
		return synthetic(ctx, tmp, synth, dim, emb, ds)
	}
	fmt.Printf("SciFact: %d documents, %d %s queries with judgements; local-embed %d dims\n", len(ds.ids), len(ds.qids), split, dim)
	start := time.Now()
	chunks, err := ingestFlow(ctx, bs, svc, ds, workers)
	if err != nil {
		return err
	}
	ingest := time.Since(start)
	fmt.Printf("ingested %d documents (%d chunks) through the ingestion state machine (%d at once) in %v: %.0f docs/s\n", len(ds.ids), chunks, workers, ingest.Round(time.Millisecond), float64(len(ds.ids))/ingest.Seconds())

	qvecs, err := emb(ctx, queryTexts(ds))
	if err != nil {
		return err
	}
	type row struct {
		name        string
		ndcg, rec   float64
		ref         string
		p50, p99    time.Duration
		searchType  index.SearchType
		managerOpts []index.Option
		api         bool
	}
	rows := []row{
		{name: "LEXICAL (BM25 k1=1.2 b=0.75)", searchType: index.Lexical, api: true, ref: "BM25 0.665 (BEIR), 0.679 (Anserini multifield)"},
		{name: "SEMANTIC (local-embed)", searchType: index.Semantic, api: true, ref: "local-embed exact cosine 0.53 (1024 d)"},
		{name: "HYBRID (convex, lexical 0.8)", searchType: index.Hybrid, api: true, ref: "target >= 0.68"},
	}
	if sweep {
		rows = append(rows,
			row{name: "LEXICAL k1=0.9 b=0.4", searchType: index.Lexical, managerOpts: []index.Option{index.WithBM25(0.9, 0.4)}},
			row{name: "HYBRID rrf", searchType: index.Hybrid, managerOpts: []index.Option{index.WithFusion(index.FusionRRF, 0)}},
		)
		for _, w := range []float64{0.5, 0.6, 0.7, 0.9} {
			rows = append(rows, row{name: fmt.Sprintf("HYBRID convex w=%.1f", w), searchType: index.Hybrid, managerOpts: []index.Option{index.WithFusion(index.FusionConvex, w)}})
		}
	}
	var coldLoad time.Duration
	for i := range rows {
		r := &rows[i]
		m := index.NewManager(bs, append([]index.Option{index.WithRefreshInterval(-1), index.WithCacheDir(filepath.Join(tmp, "cache"))}, r.managerOpts...)...)
		t0 := time.Now()
		ix, err := m.Open(ctx, "bench", "scifact")
		if err != nil {
			return err
		}
		if i == 0 {
			coldLoad = time.Since(t0)
		}
		var lat []time.Duration
		for qi, qid := range ds.qids {
			var docs []string
			t1 := time.Now()
			if r.api {
				// The product path: Retrieve embeds the query and searches the KB.
				resp, err := svc.Retrieve(ctx, "bench", "scifact", rag.RetrieveRequest{Query: ds.queries[qid], TopK: 100, SearchType: string(r.searchType)})
				lat = append(lat, time.Since(t1))
				if err != nil {
					return err
				}
				for _, res := range resp.Results {
					docs = append(docs, strings.TrimSuffix(res.Document.Name, ".md"))
				}
			} else {
				q := index.Query{Text: ds.queries[qid], TopK: 100, Type: r.searchType}
				if r.searchType != index.Lexical {
					q.Vector = qvecs[qi]
				}
				hits, err := ix.Search(ctx, q)
				lat = append(lat, time.Since(t1))
				if err != nil {
					return err
				}
				for _, h := range hits {
					docs = append(docs, strings.TrimSuffix(h.DocName, ".md"))
				}
			}
			docs = dedupe(docs)
			r.ndcg += ndcg(docs, ds.qrels[qid], 10)
			r.rec += recall(docs, ds.qrels[qid], 100)
		}
		r.ndcg /= float64(len(ds.qids))
		r.rec /= float64(len(ds.qids))
		r.p50, r.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	}
	fmt.Printf("\n%-30s %8s %10s %9s %9s   %s\n", "search", "nDCG@10", "Recall@100", "p50", "p99", "published reference")
	for _, r := range rows {
		fmt.Printf("%-30s %8.4f %10.4f %9v %9v   %s\n", r.name, r.ndcg, r.rec, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.ref)
	}
	fmt.Printf("\ncold load of the SciFact index from blob storage: %v\n", coldLoad.Round(time.Microsecond))
	if synth > 0 {
		if err := synthetic(ctx, tmp, synth, dim, emb, ds); err != nil {
			return err
		}
	}
	return nil
}

func queryTexts(ds *dataset) []string {
	out := make([]string, len(ds.qids))
	for i, id := range ds.qids {
		out[i] = ds.queries[id]
	}
	return out
}

// ingestFlow stores every document in the knowledge base's prefix and runs the real
// ingestion state machine on its S3 "Object Created" event, with workers executions at once.
func ingestFlow(ctx context.Context, bs blob.Store, svc *rag.Service, ds *dataset, workers int) (int, error) {
	def, err := os.ReadFile(filepath.Join(projectRoot(), "statemachines", "ingestion.asl.json"))
	if err != nil {
		return 0, err
	}
	subs := map[string]string{}
	for _, p := range flow.Placeholders(def) {
		subs[p] = p
	}
	machine, err := flow.Load(def, subs)
	if err != nil {
		return 0, err
	}
	tasks := map[string]flow.TaskFunc{}
	for k, fn := range svc.Tasks() {
		tasks[k] = fn
	}
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id := ds.ids[i]
				key := rag.ObjectKey("bench", "scifact", id+".md")
				body := "# " + ds.titles[i] + "\n\n" + ds.texts[i]
				if _, err := bs.Put(ctx, key, strings.NewReader(body), blob.PutOptions{ContentType: "text/markdown"}); err != nil {
					errs <- err
					return
				}
				ev, _ := json.Marshal(map[string]any{"detail-type": "Object Created", "source": "aws.s3",
					"detail": map[string]any{"bucket": map[string]any{"name": "bench"}, "object": map[string]any{"key": key, "size": len(body)}}})
				if _, err := machine.Run(ctx, ev, flow.WithRunTasks(tasks)); err != nil {
					errs <- fmt.Errorf("ingest %s: %w", id, err)
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range ds.ids {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	docs, err := svc.ListDocuments(ctx, "bench", "scifact")
	if err != nil {
		return 0, err
	}
	chunks := 0
	for _, d := range docs {
		if d.Status != rag.StatusIndexed {
			return 0, fmt.Errorf("document %s ended %s: %s", d.Name, d.Status, d.Reason)
		}
		chunks += d.Chunks
	}
	return chunks, nil
}

func projectRoot() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(int(float64(len(s))*p), len(s)-1)]
}

// synthetic builds an index of n chunks by recombining SciFact sentences and times
// searches, cold load and memory.
func synthetic(ctx context.Context, tmp string, n, dim int, emb embedFunc, ds *dataset) error {
	bs, err := fsblob.New(filepath.Join(tmp, "synth"))
	if err != nil {
		return err
	}
	ix, err := index.NewManager(bs, index.WithRefreshInterval(-1)).Open(ctx, "bench", "synthetic")
	if err != nil {
		return err
	}
	const perDoc = 100
	t0 := time.Now()
	for d := 0; d*perDoc < n; d++ {
		texts := make([]string, 0, perDoc)
		for j := 0; j < perDoc && d*perDoc+j < n; j++ {
			k := d*perDoc + j
			texts = append(texts, ds.texts[k%len(ds.texts)]+" "+ds.titles[(k*7919)%len(ds.titles)])
		}
		vecs, err := emb(ctx, texts)
		if err != nil {
			return err
		}
		recs := make([]index.Record, len(texts))
		for j := range texts {
			recs[j] = index.Record{ChunkID: fmt.Sprintf("s%d:%d", d, j), Text: texts[j], Vector: vecs[j]}
		}
		if err := ix.Upsert(ctx, fmt.Sprintf("s%d", d), recs); err != nil {
			return err
		}
	}
	if err := ix.Compact(ctx); err != nil {
		return err
	}
	build := time.Since(t0)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	t1 := time.Now()
	cold, err := index.NewManager(bs, index.WithRefreshInterval(-1)).Open(ctx, "bench", "synthetic")
	if err != nil {
		return err
	}
	load := time.Since(t1)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	qvecs, err := emb(ctx, queryTexts(ds))
	if err != nil {
		return err
	}
	fmt.Printf("\nsynthetic index: %d chunks (%d dims) built in %v; cold load %v; heap %.1f MB per 100k chunks\n",
		cold.Stats().LiveRows, dim, build.Round(time.Millisecond), load.Round(time.Millisecond),
		float64(after.HeapAlloc-before.HeapAlloc)/1e6*100000/float64(n))
	for _, st := range []index.SearchType{index.Lexical, index.Semantic, index.Hybrid} {
		var lat []time.Duration
		for qi, qid := range ds.qids {
			q := index.Query{Text: ds.queries[qid], TopK: 10, Type: st}
			if st != index.Lexical {
				q.Vector = qvecs[qi]
			}
			t := time.Now()
			if _, err := cold.Search(ctx, q); err != nil {
				return err
			}
			lat = append(lat, time.Since(t))
		}
		fmt.Printf("  %-9s p50 %9v  p99 %9v   (target p99 <= 50ms)\n", st, percentile(lat, 0.5).Round(time.Microsecond), percentile(lat, 0.99).Round(time.Microsecond))
	}
	return nil
}
