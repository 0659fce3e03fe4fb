package index

import (
	"container/heap"
	"math"
	"runtime"
	"sort"
	"sync"
)

// SearchType selects lexical, semantic or hybrid retrieval (Bedrock's overrideSearchType).
type SearchType string

// Search types.
const (
	Hybrid   SearchType = "HYBRID"
	Semantic SearchType = "SEMANTIC"
	Lexical  SearchType = "LEXICAL"
)

// Fusion combines lexical and semantic rankings in hybrid search.
type Fusion string

// Fusion methods.
const (
	// FusionRRF is reciprocal-rank fusion: Σ 1/(60 + rank).
	FusionRRF Fusion = "rrf"
	// FusionConvex is a weighted sum of min-max normalised scores
	// (LexicalWeight·lexical + (1-LexicalWeight)·semantic).
	FusionConvex Fusion = "convex"
)

// Query is one retrieval request against an index.
type Query struct {
	Text   string
	Vector []float32
	// TopK is the number of hits, 1–100 (default 10).
	TopK int
	// Type defaults to Hybrid when Vector is set, else Lexical.
	Type   SearchType
	Filter *Filter
	// Fusion and LexicalWeight override the manager's hybrid fusion for this query (zero
	// values keep it).
	Fusion        Fusion
	LexicalWeight float64
}

// Hit is one retrieved chunk.
type Hit struct {
	Record
	// Score is the fused score for hybrid search, BM25 for lexical, cosine for semantic.
	Score float64
}

type candidate struct {
	seg, row int
	score    float64
}

// minHeap keeps the best k candidates.
type minHeap []candidate

func (h minHeap) Len() int { return len(h) }
func (h minHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score < h[j].score
	}
	// Equal scores: the later row loses, so ties resolve by insertion order.
	if h[i].seg != h[j].seg {
		return h[i].seg > h[j].seg
	}
	return h[i].row > h[j].row
}
func (h minHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)   { *h = append(*h, x.(candidate)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type topK struct {
	k int
	h minHeap
}

func (t *topK) add(c candidate) {
	if len(t.h) < t.k {
		heap.Push(&t.h, c)
		return
	}
	if c.score > t.h[0].score {
		t.h[0] = c
		heap.Fix(&t.h, 0)
	}
}

// sorted returns the candidates best first.
func (t *topK) sorted() []candidate {
	out := append([]candidate(nil), t.h...)
	sort.Slice(out, func(i, j int) bool { return minHeap(out).Less(j, i) })
	return out
}

var scorePool = sync.Pool{New: func() any { s := make([]float32, 0, 1024); return &s }}

// allowedRows evaluates the filter and deletions once per segment.
func (v *view) allowed(f *Filter) [][]bool {
	if f == nil {
		return nil
	}
	out := make([][]bool, len(v.segs))
	for si, ls := range v.segs {
		a := make([]bool, len(ls.seg.recs))
		for i := range ls.seg.recs {
			r := &ls.seg.recs[i]
			a[i] = f.Match(r.Attr)
		}
		out[si] = a
	}
	return out
}

func (v *view) live(si int, row uint32, allowed [][]bool) bool {
	if v.segs[si].dead.has(row) {
		return false
	}
	return allowed == nil || allowed[si][row]
}

// lexical scores with Okapi BM25 over every live segment, using collection statistics
// summed across segments (as Lucene does).
func (v *view) lexical(text string, k int, k1, b float64, allowed [][]bool) []candidate {
	terms := Analyze(text)
	if len(terms) == 0 || v.docs == 0 {
		return nil
	}
	qtf := map[string]int{}
	for _, t := range terms {
		qtf[t]++
	}
	var sumLen int64
	for _, ls := range v.segs {
		sumLen += ls.seg.sumLen
	}
	total := v.rows
	avgdl := float64(sumLen) / float64(max(total, 1))
	type qterm struct {
		term   string
		weight float64
	}
	var qterms []qterm
	for t, n := range qtf {
		df := 0
		for _, ls := range v.segs {
			d, _ := ls.seg.postings(t)
			df += len(d)
		}
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (float64(total)-float64(df)+0.5)/(float64(df)+0.5))
		qterms = append(qterms, qterm{t, idf * float64(n)})
	}
	top := &topK{k: k}
	for si, ls := range v.segs {
		s := ls.seg
		sp := scorePool.Get().(*[]float32)
		scores := (*sp)[:0]
		if cap(scores) < len(s.recs) {
			scores = make([]float32, len(s.recs))
		} else {
			scores = scores[:len(s.recs)]
			clear(scores)
		}
		var touched []uint32
		// Precompute the length normalisation per row lazily through lens.
		for _, q := range qterms {
			docs, tfs := s.postings(q.term)
			for i, d := range docs {
				tf := float64(tfs[i])
				norm := k1 * (1 - b + b*float64(s.lens[d])/avgdl)
				if scores[d] == 0 {
					touched = append(touched, d)
				}
				scores[d] += float32(q.weight * tf * (k1 + 1) / (tf + norm))
			}
		}
		for _, d := range touched {
			if v.live(si, d, allowed) {
				top.add(candidate{si, int(d), float64(scores[d])})
			}
		}
		*sp = scores
		scorePool.Put(sp)
	}
	return top.sorted()
}

// semantic scans every live row's int8 vector (exhaustive search) and scores cosine
// similarity for normalised embeddings (dot product otherwise).
func (v *view) semantic(vec []float32, k int, allowed [][]bool) []candidate {
	if v.dim == 0 || len(vec) != v.dim {
		return nil
	}
	q, qs := quantize(vec)
	top := &topK{k: k}
	for si, ls := range v.segs {
		s := ls.seg
		n := len(s.recs)
		if s.sparse() {
			scanColumns(v, si, s, q, qs, top, allowed)
			continue
		}
		if s.cols != nil {
			scanDenseColumns(v, si, s, q, qs, top, allowed)
			continue
		}
		workers := 1
		if n >= 32768 {
			workers = runtime.GOMAXPROCS(0)
		}
		if workers == 1 {
			scanRows(v, si, s, q, qs, 0, n, top, allowed)
			continue
		}
		parts := make([]*topK, workers)
		var wg sync.WaitGroup
		per := (n + workers - 1) / workers
		for w := 0; w < workers; w++ {
			parts[w] = &topK{k: k}
			lo, hi := w*per, min((w+1)*per, n)
			wg.Add(1)
			go func(t *topK) {
				defer wg.Done()
				scanRows(v, si, s, q, qs, lo, hi, t, allowed)
			}(parts[w])
		}
		wg.Wait()
		for _, p := range parts {
			for _, c := range p.h {
				top.add(c)
			}
		}
	}
	return top.sorted()
}

func scanRows(v *view, si int, s *segment, q []int8, qs float32, lo, hi int, top *topK, allowed [][]bool) {
	dim := s.dim
	dead := v.segs[si].dead
	// Short queries embed to few non-zero components: multiplying only those is exact and
	// several times cheaper than the full dot product.
	var nzDim []int
	var nzVal []int32
	for d, x := range q {
		if x != 0 {
			nzDim = append(nzDim, d)
			nzVal = append(nzVal, int32(x))
		}
	}
	gather := len(nzDim) < dim/2
	for i := lo; i < hi; i++ {
		if dead.has(uint32(i)) || (allowed != nil && !allowed[si][i]) {
			continue
		}
		row := s.vecs[i*dim : (i+1)*dim : (i+1)*dim]
		var dot int32
		if gather {
			for k, d := range nzDim {
				dot += nzVal[k] * int32(row[d])
			}
		} else {
			dot = dotInt8(q, row)
		}
		score := float64(float32(dot) * qs * s.scales[i])
		if len(top.h) < top.k || score > top.h[0].score {
			top.add(candidate{si, i, score})
		}
	}
}

var accPool = sync.Pool{New: func() any { s := make([]int32, 0, 1024); return &s }}

// scanColumns scores a sparse segment by walking the postings of the query's non-zero
// dimensions; rows sharing no dimension with the query score 0 and are not returned.
func scanColumns(v *view, si int, s *segment, q []int8, qs float32, top *topK, allowed [][]bool) {
	ap := accPool.Get().(*[]int32)
	acc := (*ap)[:0]
	if cap(acc) < len(s.recs) {
		acc = make([]int32, len(s.recs))
	} else {
		acc = acc[:len(s.recs)]
		clear(acc)
	}
	touched := make([]uint32, 0, 1024)
	seen := newBitset(len(s.recs))
	for d, qv := range q {
		if qv == 0 {
			continue
		}
		w := int32(qv)
		lo, hi := s.colOff[d], s.colOff[d+1]
		rows, vals := s.colRow[lo:hi], s.colVal[lo:hi]
		for k, r := range rows {
			acc[r] += w * int32(vals[k])
			if !seen.has(r) {
				seen.set(r)
				touched = append(touched, r)
			}
		}
	}
	dead := v.segs[si].dead
	for _, r := range touched {
		if dead.has(r) || (allowed != nil && !allowed[si][r]) {
			continue
		}
		score := float64(float32(acc[r]) * qs * s.scales[r])
		if len(top.h) < top.k || score > top.h[0].score {
			top.add(candidate{si, int(r), score})
		}
	}
	*ap = acc
	accPool.Put(ap)
}

// Column scans of large dense segments: the first pass streams the columns of the query's
// firstPassDims heaviest components; when the query has more non-zero components, the best
// rescoreFactor·k (at least minRescore) rows of that pass are rescored exactly over all of
// them. Short queries (hashing embedders, keyword questions) are scored exactly.
const (
	firstPassDims = 96
	rescoreFactor = 10
	minRescore    = 1000
)

func scanDenseColumns(v *view, si int, s *segment, q []int8, qs float32, top *topK, allowed [][]bool) {
	n := len(s.recs)
	type qdim struct {
		d int
		w int32
	}
	var dims []qdim
	for d, x := range q {
		if x != 0 {
			dims = append(dims, qdim{d, int32(x)})
		}
	}
	sort.Slice(dims, func(i, j int) bool {
		a, b := dims[i].w, dims[j].w
		if a < 0 {
			a = -a
		}
		if b < 0 {
			b = -b
		}
		return a > b
	})
	first := dims
	if len(first) > firstPassDims {
		first = first[:firstPassDims]
	}
	ap := accPool.Get().(*[]int32)
	acc := (*ap)[:0]
	if cap(acc) < n {
		acc = make([]int32, n)
	} else {
		acc = acc[:n]
		clear(acc)
	}
	workers := runtime.GOMAXPROCS(0)
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, n)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := acc[lo:hi]
			for _, qd := range first {
				col := s.cols[qd.d*n+lo : qd.d*n+hi]
				wq := qd.w
				for r, x := range col {
					part[r] += wq * int32(x)
				}
			}
		}()
	}
	wg.Wait()
	dead := v.segs[si].dead
	exact := len(first) == len(dims)
	k := top.k
	if !exact {
		k = max(top.k*rescoreFactor, minRescore)
	}
	pass := &topK{k: k}
	for r := 0; r < n; r++ {
		if dead.has(uint32(r)) || (allowed != nil && !allowed[si][r]) {
			continue
		}
		sc := float64(float32(acc[r]) * qs * s.scales[r])
		if len(pass.h) < pass.k || sc > pass.h[0].score {
			pass.add(candidate{si, r, sc})
		}
	}
	*ap = acc
	accPool.Put(ap)
	cands := pass.h
	if !exact {
		// Rescore dimension by dimension over row-sorted candidates, so each column is read
		// front to back.
		sort.Slice(cands, func(i, j int) bool { return cands[i].row < cands[j].row })
		dots := make([]int32, len(cands))
		for _, qd := range dims {
			col := s.cols[qd.d*n : (qd.d+1)*n]
			for i, c := range cands {
				dots[i] += qd.w * int32(col[c.row])
			}
		}
		for i := range cands {
			cands[i].score = float64(float32(dots[i]) * qs * s.scales[cands[i].row])
		}
	}
	for _, c := range cands {
		score := c.score
		if len(top.h) < top.k || score > top.h[0].score {
			top.add(candidate{si, c.row, score})
		}
	}
}

func dotInt8(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

type key struct{ seg, row int }

// fuse combines two rankings.
func fuse(lex, sem []candidate, k int, f Fusion, lexWeight float64) []candidate {
	scores := map[key]float64{}
	switch f {
	case FusionConvex:
		add := func(list []candidate, w float64) {
			if len(list) == 0 {
				return
			}
			hi, lo := list[0].score, list[len(list)-1].score
			for _, c := range list {
				n := 1.0
				if hi > lo {
					n = (c.score - lo) / (hi - lo)
				}
				scores[key{c.seg, c.row}] += w * n
			}
		}
		add(lex, lexWeight)
		add(sem, 1-lexWeight)
	default:
		for i, c := range lex {
			scores[key{c.seg, c.row}] += 1 / (60 + float64(i+1))
		}
		for i, c := range sem {
			scores[key{c.seg, c.row}] += 1 / (60 + float64(i+1))
		}
	}
	top := &topK{k: k}
	for kk, s := range scores {
		top.add(candidate{kk.seg, kk.row, s})
	}
	return top.sorted()
}
