package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// dataset is a BEIR-format retrieval set.
type dataset struct {
	ids     []string
	titles  []string
	texts   []string
	qids    []string
	queries map[string]string
	qrels   map[string]map[string]int
}

func loadDataset(dir, split string) (*dataset, error) {
	ds := &dataset{queries: map[string]string{}, qrels: map[string]map[string]int{}}
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl.gz"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var d struct {
			ID    string `json:"_id"`
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		ds.ids = append(ds.ids, d.ID)
		ds.titles = append(ds.titles, d.Title)
		ds.texts = append(ds.texts, d.Text)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	q, err := os.ReadFile(filepath.Join(dir, "queries-"+split+".jsonl"))
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(q)) {
		var raw struct {
			ID   string `json:"_id"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			return nil, fmt.Errorf("queries: %w", err)
		}
		ds.queries[raw.ID] = raw.Text
	}
	r, err := os.ReadFile(filepath.Join(dir, "qrels-"+split+".tsv"))
	if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(strings.TrimSpace(string(r)), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 3 || f[2] == "0" {
			continue
		}
		if ds.qrels[f[0]] == nil {
			ds.qrels[f[0]] = map[string]int{}
		}
		ds.qrels[f[0]][f[1]] = 1
	}
	for id := range ds.qrels {
		if _, ok := ds.queries[id]; ok {
			ds.qids = append(ds.qids, id)
		}
	}
	sort.Strings(ds.qids)
	return ds, nil
}

// ndcg computes nDCG@k of a ranked list of document IDs.
func ndcg(ranked []string, rel map[string]int, k int) float64 {
	dcg := 0.0
	for i, id := range ranked {
		if i >= k {
			break
		}
		if g := rel[id]; g > 0 {
			dcg += float64(g) / math.Log2(float64(i+2))
		}
	}
	var gains []int
	for _, g := range rel {
		gains = append(gains, g)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(gains)))
	idcg := 0.0
	for i, g := range gains {
		if i >= k {
			break
		}
		idcg += float64(g) / math.Log2(float64(i+2))
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}

// recall computes Recall@k.
func recall(ranked []string, rel map[string]int, k int) float64 {
	if len(rel) == 0 {
		return 0
	}
	n := 0
	for i, id := range ranked {
		if i >= k {
			break
		}
		if rel[id] > 0 {
			n++
		}
	}
	return float64(n) / float64(len(rel))
}

// dedupe keeps each document's best-ranked chunk.
func dedupe(docIDs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range docIDs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}
