// Package s3vectorstest is an in-memory Amazon S3 Vectors for tests: an HTTP server
// speaking S3 Vectors' REST-JSON wire protocol (POST /CreateIndex, /PutVectors,
// /QueryVectors, /DeleteVectors, /DeleteIndex) over any number of vector buckets, with
// exact cosine search and the documented filter operators. A request naming a vector
// bucket the fake was not given is refused as S3 Vectors refuses it (NotFoundException).
package s3vectorstest

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3vectors"
)

// Fake is the in-memory S3 Vectors.
type Fake struct {
	mu      sync.Mutex
	buckets map[string]map[string]*fakeIndex
	filters []map[string]any
	ops     []string
	srv     *httptest.Server
}

type fakeIndex struct {
	dim     int
	vectors map[string]fakeVector
}

type fakeVector struct {
	data []float32
	md   map[string]any
}

// New starts a fake holding the named (empty) vector buckets; Close stops it.
func New(buckets ...string) *Fake {
	f := &Fake{buckets: map[string]map[string]*fakeIndex{}}
	for _, b := range buckets {
		f.buckets[b] = map[string]*fakeIndex{}
	}
	f.srv = httptest.NewServer(f)
	return f
}

// Close stops the server.
func (f *Fake) Close() { f.srv.Close() }

// URL is the server's endpoint.
func (f *Fake) URL() string { return f.srv.URL }

// Client is an S3 Vectors client of the fake.
func (f *Fake) Client() *s3vectors.Client {
	return s3vectors.New(s3vectors.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(f.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
}

// Indexes lists the vector indexes of a bucket, sorted.
func (f *Fake) Indexes(bucket string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.buckets[bucket] {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Keys lists the vector keys of an index of a bucket, sorted (nil for a missing index).
func (f *Fake) Keys(bucket, index string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ix := f.buckets[bucket][index]
	if ix == nil {
		return nil
	}
	out := make([]string, 0, len(ix.vectors))
	for k := range ix.vectors {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Filters are the filter documents queries sent, in order (nil for none).
func (f *Fake) Filters() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.filters)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// ServeHTTP answers one S3 Vectors operation.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Method != http.MethodPost {
		writeErr(w, 400, "ValidationException", "bad request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, r.URL.Path)
	bucket, _ := body["vectorBucketName"].(string)
	indexes, ok := f.buckets[bucket]
	if !ok {
		writeErr(w, 404, "NotFoundException", "no such vector bucket")
		return
	}
	name, _ := body["indexName"].(string)
	ix := indexes[name]
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch r.URL.Path {
	case "/CreateIndex":
		if ix != nil {
			writeErr(w, 409, "ConflictException", "index exists")
			return
		}
		if body["dataType"] != "float32" || body["distanceMetric"] != "cosine" {
			writeErr(w, 400, "ValidationException", "unsupported index configuration")
			return
		}
		indexes[name] = &fakeIndex{dim: int(body["dimension"].(float64)), vectors: map[string]fakeVector{}}
		reply(map[string]any{})
	case "/PutVectors":
		if ix == nil {
			writeErr(w, 404, "NotFoundException", "no such index")
			return
		}
		for _, raw := range body["vectors"].([]any) {
			v := raw.(map[string]any)
			data := toFloats(v["data"].(map[string]any)["float32"].([]any))
			if len(data) != ix.dim {
				writeErr(w, 400, "ValidationException", "dimension mismatch")
				return
			}
			md, _ := v["metadata"].(map[string]any)
			ix.vectors[v["key"].(string)] = fakeVector{data, md}
		}
		reply(map[string]any{})
	case "/DeleteIndex":
		if ix == nil {
			writeErr(w, 404, "NotFoundException", "no such index")
			return
		}
		delete(indexes, name)
		reply(map[string]any{})
	case "/DeleteVectors":
		if ix == nil {
			writeErr(w, 404, "NotFoundException", "no such index")
			return
		}
		for _, k := range body["keys"].([]any) {
			delete(ix.vectors, k.(string))
		}
		reply(map[string]any{})
	case "/QueryVectors":
		if ix == nil {
			writeErr(w, 404, "NotFoundException", "no such index")
			return
		}
		q := toFloats(body["queryVector"].(map[string]any)["float32"].([]any))
		filter, _ := body["filter"].(map[string]any)
		f.filters = append(f.filters, filter)
		type hit struct {
			key  string
			dist float64
		}
		var hits []hit
		for k, v := range ix.vectors {
			if filter != nil && !matches(filter, v.md) {
				continue
			}
			hits = append(hits, hit{k, 1 - cosine(q, v.data)})
		}
		sort.Slice(hits, func(i, j int) bool { return hits[i].dist < hits[j].dist })
		topK := int(body["topK"].(float64))
		var out []map[string]any
		for i := 0; i < len(hits) && i < topK; i++ {
			out = append(out, map[string]any{"key": hits[i].key, "distance": hits[i].dist})
		}
		reply(map[string]any{"vectors": out, "distanceMetric": "cosine"})
	default:
		writeErr(w, 404, "UnknownOperationException", r.URL.Path)
	}
}

func toFloats(a []any) []float32 {
	out := make([]float32, len(a))
	for i, x := range a {
		out[i] = float32(x.(float64))
	}
	return out
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// matches evaluates S3 Vectors' filter operators against metadata.
func matches(filter map[string]any, md map[string]any) bool {
	for k, cond := range filter {
		switch k {
		case "$and":
			for _, c := range cond.([]any) {
				if !matches(c.(map[string]any), md) {
					return false
				}
			}
			continue
		case "$or":
			ok := false
			for _, c := range cond.([]any) {
				ok = ok || matches(c.(map[string]any), md)
			}
			if !ok {
				return false
			}
			continue
		}
		v, present := md[k]
		ops, isOps := cond.(map[string]any)
		if !isOps {
			ops = map[string]any{"$eq": cond}
		}
		for op, want := range ops {
			if !present {
				return false
			}
			eq := func(w any) bool {
				if list, ok := v.([]any); ok {
					for _, e := range list {
						if reflect.DeepEqual(e, w) {
							return true
						}
					}
					return false
				}
				return reflect.DeepEqual(v, w)
			}
			num := func() (float64, float64, bool) {
				a, ok1 := v.(float64)
				b, ok2 := want.(float64)
				return a, b, ok1 && ok2
			}
			ok := false
			switch op {
			case "$eq":
				ok = eq(want)
			case "$ne":
				ok = !eq(want)
			case "$in", "$nin":
				for _, w := range want.([]any) {
					ok = ok || eq(w)
				}
				if op == "$nin" {
					ok = !ok
				}
			case "$gt", "$gte", "$lt", "$lte":
				a, b, isNum := num()
				ok = isNum && map[string]bool{"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]
			}
			if !ok {
				return false
			}
		}
	}
	return true
}
