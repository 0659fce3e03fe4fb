package index

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sort"
)

// ErrCorruptSegment means a segment file could not be decoded.
var ErrCorruptSegment = errors.New("index: corrupt segment")

const segmentFormat = 1

// Record is one chunk as indexed: its text, where it came from and its embedding.
type Record struct {
	// ChunkID is unique within the knowledge base ("<document id>:<n>").
	ChunkID string `json:"chunk_id"`
	// DocID is the document the chunk belongs to; Upsert and Delete work per document.
	DocID   string `json:"doc_id"`
	DocName string `json:"doc_name,omitempty"`
	// Source is the document's URI (s3://bucket/key or the blob key).
	Source string `json:"source,omitempty"`
	Page   int    `json:"page,omitempty"`
	// EndPage is the last page of a chunk that runs over a page break (else 0).
	EndPage int    `json:"end_page,omitempty"`
	Heading string `json:"heading,omitempty"`
	// Text is searched and embedded (with Heading in front as context).
	Text string `json:"text"`
	// Parent, when set, is returned in place of Text (hierarchical chunking).
	Parent   string         `json:"parent,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// Vector is the chunk's embedding (nil for lexical-only indexes).
	Vector []float32 `json:"-"`
}

// Attr returns a metadata attribute, including the built-in x-amz-bedrock-kb-* keys.
func (r *Record) Attr(key string) (any, bool) {
	switch key {
	case KeySourceURI:
		return r.Source, r.Source != ""
	case KeyPageNumber:
		return float64(r.Page), r.Page > 0
	case KeyChunkID:
		return r.ChunkID, true
	case KeyDocumentID:
		return r.DocID, true
	}
	v, ok := r.Metadata[key]
	return v, ok
}

// SearchText is what the analyzer and embedder see: the heading path gives a chunk cut
// from the middle of a section its context.
func (r *Record) SearchText() string {
	if r.Heading == "" {
		return r.Text
	}
	return r.Heading + "\n" + r.Text
}

// segment is an immutable, searchable batch of records.
type segment struct {
	recs    []Record
	terms   map[string]uint32
	postOff []uint32 // postings of term t are [postOff[t], postOff[t+1])
	postDoc []uint32
	postTF  []uint16
	lens    []uint16
	sumLen  int64
	dim     int
	vecs    []int8    // row-major, dim per record; nil when dim is 0 or the segment is sparse
	scales  []float32 // per-record dequantisation factor
	// Sparse segments (most vector components zero, as hashing embedders produce) keep
	// their vectors by dimension instead: the rows and values of dimension d are
	// colRow/colVal[colOff[d]:colOff[d+1]]. A query then touches only the postings of its
	// own non-zero dimensions.
	colOff []uint32
	colRow []uint32
	colVal []int8
	// Large dense segments keep vectors column-major instead (cols[d*n+r]), so a query
	// streams only the columns of its heaviest dimensions (see scanDenseColumns).
	cols    []int8
	docRows map[string][]uint32
}

// segmentFile is the persisted form (gob).
type segmentFile struct {
	Format  int
	Records []fileRecord
	Terms   []string
	PostOff []uint32
	PostDoc []uint32
	PostTF  []uint16
	Lens    []uint16
	Dim     int
	Vecs    []byte
	Scales  []float32
}

// A segment file is segmentMagic, a CRC-32C of the rest, and the gob-encoded segmentFile.
var (
	segmentMagic = []byte("PLSEG1\n")
	crcTable     = crc32.MakeTable(crc32.Castagnoli)
)

type fileRecord struct {
	ChunkID, DocID, DocName, Source, Heading, Text, Parent string
	Page, EndPage                                          int
	Metadata                                               []byte
}

// buildSegment analyses and quantises records into a segment.
func buildSegment(recs []Record, dim int) (*segment, error) {
	s := &segment{recs: make([]Record, len(recs)), dim: dim, lens: make([]uint16, len(recs))}
	type posting struct {
		doc uint32
		tf  uint16
	}
	post := map[string][]posting{}
	for i, r := range recs {
		if dim > 0 && len(r.Vector) != dim {
			return nil, fmt.Errorf("%w: chunk %s has %d dimensions, the index has %d", ErrDimension, r.ChunkID, len(r.Vector), dim)
		}
		terms := Analyze(r.SearchText())
		s.lens[i] = uint16(min(len(terms), math.MaxUint16))
		s.sumLen += int64(len(terms))
		tf := map[string]int{}
		for _, t := range terms {
			tf[t]++
		}
		for t, n := range tf {
			post[t] = append(post[t], posting{uint32(i), uint16(min(n, math.MaxUint16))})
		}
		if dim > 0 {
			q, scale := quantize(r.Vector)
			s.vecs = append(s.vecs, q...)
			s.scales = append(s.scales, scale)
		}
		r.Vector = nil
		s.recs[i] = r
	}
	terms := make([]string, 0, len(post))
	for t := range post {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	s.terms = make(map[string]uint32, len(terms))
	s.postOff = make([]uint32, 0, len(terms)+1)
	for i, t := range terms {
		s.terms[t] = uint32(i)
		s.postOff = append(s.postOff, uint32(len(s.postDoc)))
		for _, p := range post[t] {
			s.postDoc = append(s.postDoc, p.doc)
			s.postTF = append(s.postTF, p.tf)
		}
	}
	s.postOff = append(s.postOff, uint32(len(s.postDoc)))
	s.indexDocs()
	s.sparsify()
	return s, nil
}

// sparseDensity is the share of non-zero components below which a segment stores its
// vectors by dimension.
const sparseDensity = 0.3

// sparsify switches the segment to the by-dimension layout when its vectors are sparse.
func (s *segment) sparsify() {
	if s.dim == 0 || len(s.vecs) == 0 {
		return
	}
	nnz := 0
	counts := make([]uint32, s.dim+1)
	for i, v := range s.vecs {
		if v != 0 {
			nnz++
			counts[i%s.dim]++
		}
	}
	if float64(nnz) >= sparseDensity*float64(len(s.vecs)) {
		if len(s.recs) >= columnRows {
			n := len(s.recs)
			s.cols = make([]int8, len(s.vecs))
			for r := 0; r < n; r++ {
				row := s.vecs[r*s.dim : (r+1)*s.dim]
				for d, v := range row {
					s.cols[d*n+r] = v
				}
			}
			s.vecs = nil
		}
		return
	}
	s.colOff = make([]uint32, s.dim+1)
	for d := 0; d < s.dim; d++ {
		s.colOff[d+1] = s.colOff[d] + counts[d]
	}
	s.colRow = make([]uint32, nnz)
	s.colVal = make([]int8, nnz)
	next := append([]uint32(nil), s.colOff[:s.dim]...)
	for i, v := range s.vecs {
		if v == 0 {
			continue
		}
		d := i % s.dim
		s.colRow[next[d]] = uint32(i / s.dim)
		s.colVal[next[d]] = v
		next[d]++
	}
	s.vecs = nil
}

// columnRows is the segment size from which dense vectors are stored column-major.
var columnRows = 32768

// sparse reports whether vectors are kept by dimension.
func (s *segment) sparse() bool { return s.colOff != nil }

// denseVecs returns the row-major int8 vectors, rebuilding them for sparse segments.
func (s *segment) denseVecs() []int8 {
	if s.cols != nil {
		n := len(s.recs)
		out := make([]int8, len(s.cols))
		for d := 0; d < s.dim; d++ {
			col := s.cols[d*n : (d+1)*n]
			for r, v := range col {
				out[r*s.dim+d] = v
			}
		}
		return out
	}
	if !s.sparse() {
		return s.vecs
	}
	out := make([]int8, len(s.recs)*s.dim)
	for d := 0; d < s.dim; d++ {
		for k := s.colOff[d]; k < s.colOff[d+1]; k++ {
			out[int(s.colRow[k])*s.dim+d] = s.colVal[k]
		}
	}
	return out
}

func (s *segment) indexDocs() {
	s.docRows = map[string][]uint32{}
	for i := range s.recs {
		d := s.recs[i].DocID
		s.docRows[d] = append(s.docRows[d], uint32(i))
	}
}

// quantize maps a vector to int8 with one symmetric scale: v ≈ q * scale.
func quantize(v []float32) ([]int8, float32) {
	var maxAbs float32
	for _, x := range v {
		if x < 0 {
			x = -x
		}
		if x > maxAbs {
			maxAbs = x
		}
	}
	q := make([]int8, len(v))
	if maxAbs == 0 {
		return q, 0
	}
	scale := maxAbs / 127
	for i, x := range v {
		q[i] = int8(math.Round(float64(x / scale)))
	}
	return q, scale
}

// postings returns the postings of term, or nil.
func (s *segment) postings(term string) ([]uint32, []uint16) {
	t, ok := s.terms[term]
	if !ok {
		return nil, nil
	}
	a, b := s.postOff[t], s.postOff[t+1]
	return s.postDoc[a:b], s.postTF[a:b]
}

// merge builds one segment from the live rows of several (dead[i] marks removed rows).
func merge(segs []*segment, dead []bitset, dim int) *segment {
	out := &segment{dim: dim}
	remap := make([][]int32, len(segs))
	for si, s := range segs {
		vecs := s.denseVecs()
		remap[si] = make([]int32, len(s.recs))
		for i := range s.recs {
			if dead[si].has(uint32(i)) {
				remap[si][i] = -1
				continue
			}
			remap[si][i] = int32(len(out.recs))
			out.recs = append(out.recs, s.recs[i])
			out.lens = append(out.lens, s.lens[i])
			out.sumLen += int64(s.lens[i])
			if dim > 0 {
				out.vecs = append(out.vecs, vecs[i*dim:(i+1)*dim]...)
				out.scales = append(out.scales, s.scales[i])
			}
		}
	}
	termSet := map[string]struct{}{}
	for _, s := range segs {
		for t := range s.terms {
			termSet[t] = struct{}{}
		}
	}
	terms := make([]string, 0, len(termSet))
	for t := range termSet {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	out.terms = make(map[string]uint32, len(terms))
	for _, t := range terms {
		start := len(out.postDoc)
		for si, s := range segs {
			docs, tfs := s.postings(t)
			for k, d := range docs {
				if nd := remap[si][d]; nd >= 0 {
					out.postDoc = append(out.postDoc, uint32(nd))
					out.postTF = append(out.postTF, tfs[k])
				}
			}
		}
		if len(out.postDoc) == start {
			continue
		}
		out.terms[t] = uint32(len(out.postOff))
		out.postOff = append(out.postOff, uint32(start))
	}
	out.postOff = append(out.postOff, uint32(len(out.postDoc)))
	out.indexDocs()
	out.sparsify()
	return out
}

// encode writes the segment in its persisted form.
func (s *segment) encode(w io.Writer) error {
	f := segmentFile{Format: segmentFormat, PostOff: s.postOff, PostDoc: s.postDoc, PostTF: s.postTF, Lens: s.lens, Dim: s.dim, Scales: s.scales}
	f.Terms = make([]string, len(s.terms))
	for t, i := range s.terms {
		f.Terms[i] = t
	}
	f.Records = make([]fileRecord, len(s.recs))
	for i, r := range s.recs {
		var md []byte
		if len(r.Metadata) > 0 {
			var err error
			if md, err = json.Marshal(r.Metadata); err != nil {
				return fmt.Errorf("encode metadata of %s: %w", r.ChunkID, err)
			}
		}
		f.Records[i] = fileRecord{ChunkID: r.ChunkID, DocID: r.DocID, DocName: r.DocName, Source: r.Source, Heading: r.Heading, Text: r.Text, Parent: r.Parent, Page: r.Page, EndPage: r.EndPage, Metadata: md}
	}
	if s.dim > 0 {
		vecs := s.denseVecs()
		f.Vecs = make([]byte, len(vecs))
		for i, v := range vecs {
			f.Vecs[i] = byte(v)
		}
	}
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(&f); err != nil {
		return err
	}
	var head [4]byte
	binary.BigEndian.PutUint32(head[:], crc32.Checksum(body.Bytes(), crcTable))
	for _, part := range [][]byte{segmentMagic, head[:], body.Bytes()} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// decodeSegment reads a persisted segment.
func decodeSegment(data []byte) (*segment, error) {
	if !bytes.HasPrefix(data, segmentMagic) || len(data) < len(segmentMagic)+4 {
		return nil, fmt.Errorf("%w: not a segment file", ErrCorruptSegment)
	}
	data = data[len(segmentMagic):]
	if binary.BigEndian.Uint32(data) != crc32.Checksum(data[4:], crcTable) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptSegment)
	}
	var f segmentFile
	if err := gob.NewDecoder(bytes.NewReader(data[4:])).Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptSegment, err)
	}
	if f.Format != segmentFormat {
		return nil, fmt.Errorf("%w: format %d", ErrCorruptSegment, f.Format)
	}
	n := len(f.Records)
	if len(f.Lens) != n || len(f.PostOff) != len(f.Terms)+1 || len(f.PostDoc) != len(f.PostTF) ||
		(f.Dim > 0 && (len(f.Vecs) != n*f.Dim || len(f.Scales) != n)) {
		return nil, fmt.Errorf("%w: inconsistent lengths", ErrCorruptSegment)
	}
	s := &segment{postOff: f.PostOff, postDoc: f.PostDoc, postTF: f.PostTF, lens: f.Lens, dim: f.Dim, scales: f.Scales}
	for _, d := range f.PostDoc {
		if int(d) >= n {
			return nil, fmt.Errorf("%w: posting out of range", ErrCorruptSegment)
		}
	}
	s.terms = make(map[string]uint32, len(f.Terms))
	for i, t := range f.Terms {
		s.terms[t] = uint32(i)
	}
	for _, l := range f.Lens {
		s.sumLen += int64(l)
	}
	s.recs = make([]Record, n)
	for i, r := range f.Records {
		rec := Record{ChunkID: r.ChunkID, DocID: r.DocID, DocName: r.DocName, Source: r.Source, Heading: r.Heading, Text: r.Text, Parent: r.Parent, Page: r.Page, EndPage: r.EndPage}
		if len(r.Metadata) > 0 {
			if err := json.Unmarshal(r.Metadata, &rec.Metadata); err != nil {
				return nil, fmt.Errorf("%w: metadata of %s: %v", ErrCorruptSegment, r.ChunkID, err)
			}
		}
		s.recs[i] = rec
	}
	if f.Dim > 0 {
		s.vecs = make([]int8, len(f.Vecs))
		for i, v := range f.Vecs {
			s.vecs[i] = int8(v)
		}
	}
	s.indexDocs()
	s.sparsify()
	return s, nil
}

// bitset marks rows.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i uint32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(i&63)) != 0
}

func (b bitset) set(i uint32) { b[i>>6] |= 1 << (i & 63) }
