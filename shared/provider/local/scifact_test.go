package local

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/test/datasets"
)

// sciFactDir is SciFact in the third-party datasets directory (PLINTH_DATASETS).
func sciFactDir(tb testing.TB) string {
	tb.Helper()
	return datasets.Require(tb, "retrieval", "scifact")
}

type scifact struct {
	docIDs  []string
	docs    []string
	queries map[string]string
	qrels   map[string]map[string]bool
}

func loadSciFact(tb testing.TB) *scifact {
	tb.Helper()
	base := sciFactDir(tb)
	sf := &scifact{queries: map[string]string{}, qrels: map[string]map[string]bool{}}
	f, err := os.Open(filepath.Join(base, "corpus.jsonl.gz"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var d struct {
			ID    string `json:"_id"`
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			tb.Fatal(err)
		}
		sf.docIDs = append(sf.docIDs, d.ID)
		sf.docs = append(sf.docs, d.Title+"\n"+d.Text)
	}
	q, err := os.ReadFile(filepath.Join(base, "queries-train.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(q)) {
		var raw struct {
			ID   string `json:"_id"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			tb.Fatal(err)
		}
		sf.queries[raw.ID] = raw.Text
	}
	r, err := os.ReadFile(filepath.Join(base, "qrels-train.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(r)), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 3 || f[2] == "0" {
			continue
		}
		if sf.qrels[f[0]] == nil {
			sf.qrels[f[0]] = map[string]bool{}
		}
		sf.qrels[f[0]][f[1]] = true
	}
	return sf
}

// sciFactNDCG10 embeds the corpus and the judged queries and returns mean nDCG@10 of
// exact cosine search.
func sciFactNDCG10(tb testing.TB, sf *scifact, m provider.EmbeddingModel) float64 {
	ctx := context.Background()
	docs, err := m.Embed(ctx, &provider.EmbeddingRequest{Input: sf.docs, InputType: "search_document"})
	if err != nil {
		tb.Fatal(err)
	}
	var qids []string
	var qtexts []string
	for id := range sf.qrels {
		if text, ok := sf.queries[id]; ok {
			qids = append(qids, id)
			qtexts = append(qtexts, text)
		}
	}
	qs, err := m.Embed(ctx, &provider.EmbeddingRequest{Input: qtexts, InputType: "search_query"})
	if err != nil {
		tb.Fatal(err)
	}
	type hit struct {
		i int
		s float32
	}
	total := 0.0
	var top [10]hit
	for qi, q := range qs.Data {
		// Keep the ten best by insertion: cheaper than sorting the whole corpus.
		n := 0
		for di, d := range docs.Data {
			s := dot32(q.Embedding, d.Embedding)
			if n == len(top) && s <= top[n-1].s {
				continue
			}
			j := n
			if n < len(top) {
				n++
			} else {
				j = n - 1
			}
			for j > 0 && top[j-1].s < s {
				top[j] = top[j-1]
				j--
			}
			top[j] = hit{di, s}
		}
		hits := top[:n]
		rel := sf.qrels[qids[qi]]
		dcg, idcg := 0.0, 0.0
		for k := 0; k < 10; k++ {
			if rel[sf.docIDs[hits[k].i]] {
				dcg += 1 / math.Log2(float64(k+2))
			}
			if k < len(rel) {
				idcg += 1 / math.Log2(float64(k+2))
			}
		}
		total += dcg / idcg
	}
	return total / float64(len(qs.Data))
}

// TestSciFactRetrieval checks that local-embed is useful for search: exact cosine
// search over SciFact (train claims) must stay well above chance (it reaches about 0.54 nDCG@10; BM25 scores
// about 0.67, as a stateless embedder cannot know document frequencies).
func TestSciFactRetrieval(t *testing.T) {
	if testing.Short() {
		t.Skip("full-corpus retrieval check skipped in -short mode")
	}
	sf := loadSciFact(t)
	got := sciFactNDCG10(t, sf, NewEmbed(0))
	t.Logf("SciFact train nDCG@10 with local-embed (%d dims): %.3f (published BM25 on test: 0.665-0.679)", DefaultDimensions, got)
	if got < 0.5 {
		t.Errorf("nDCG@10 = %.3f, want >= 0.5", got)
	}
}

// dot32 is a float32 dot product with four accumulators; the vectors are unit length,
// so it is their cosine.
func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
