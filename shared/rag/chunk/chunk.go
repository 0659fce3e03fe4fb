// Package chunk splits extracted document sections into passages for indexing, with the
// strategies Amazon Bedrock Knowledge Bases offer: fixed-size token windows with overlap,
// structure-aware recursive splitting (headings, paragraphs, lines, sentences, words) and
// hierarchical parent/child chunks (children are indexed, parents are returned).
//
// Token counts are the platform's (package tokens, which also meters the
// built-in models): a run of letters, digits and non-spacing marks, or any single other
// non-space character, is one token. On English prose that is within about 10% of subword
// tokenizers' counts, the precision chunk sizing needs. Tokens gives the same tokens'
// byte spans, so windows cut exactly where the counts say.
package chunk

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/plinth-ai/plinth/shared/rag/extract"
	"github.com/plinth-ai/plinth/shared/tokens"
)

// ErrInvalidConfig means the chunking parameters are out of range.
var ErrInvalidConfig = errors.New("chunk: invalid configuration")

// Strategy names a chunking strategy.
type Strategy string

// Strategies.
const (
	// Fixed cuts windows of MaxTokens with OverlapPercent overlap (Bedrock FIXED_SIZE).
	Fixed Strategy = "fixed"
	// Recursive splits each section at the coarsest boundary that makes pieces fit
	// (paragraphs, then lines, sentences, words) and packs neighbours up to MaxTokens.
	Recursive Strategy = "recursive"
	// Hierarchical cuts parents of ParentMaxTokens and children of MaxTokens within them.
	Hierarchical Strategy = "hierarchical"
	// None keeps every section whole (Bedrock NONE).
	None Strategy = "none"
)

// Defaults (Bedrock Knowledge Bases' defaults).
const (
	DefaultMaxTokens       = 300
	DefaultOverlapPercent  = 20
	DefaultParentMaxTokens = 1500
)

// Config selects and parameterises a strategy. Zero fields take the defaults.
type Config struct {
	Strategy Strategy `json:"strategy,omitempty"`
	// MaxTokens is the chunk size (the child size for Hierarchical).
	MaxTokens int `json:"max_tokens,omitempty"`
	// OverlapPercent of MaxTokens is repeated between consecutive chunks (Fixed and
	// Hierarchical children; Recursive uses it between packed pieces of one section).
	// Nil means the default; use Percent(0) for no overlap.
	OverlapPercent *int `json:"overlap_percent,omitempty"`
	// ParentMaxTokens is the parent size for Hierarchical.
	ParentMaxTokens int `json:"parent_max_tokens,omitempty"`
}

// WithDefaults returns c with zero fields replaced by defaults.
func (c Config) WithDefaults() Config {
	if c.Strategy == "" {
		c.Strategy = Fixed
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.OverlapPercent == nil {
		c.OverlapPercent = Percent(DefaultOverlapPercent)
	}
	if c.ParentMaxTokens == 0 {
		c.ParentMaxTokens = DefaultParentMaxTokens
	}
	return c
}

// Validate reports an out-of-range parameter.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch c.Strategy {
	case Fixed, Recursive, Hierarchical, None:
	default:
		return fmt.Errorf("%w: unknown strategy %q", ErrInvalidConfig, c.Strategy)
	}
	if c.MaxTokens < 1 || c.MaxTokens > 8192 {
		return fmt.Errorf("%w: max_tokens %d not in 1..8192", ErrInvalidConfig, c.MaxTokens)
	}
	if *c.OverlapPercent < 0 || *c.OverlapPercent > 50 {
		return fmt.Errorf("%w: overlap_percent %d not in 0..50", ErrInvalidConfig, *c.OverlapPercent)
	}
	if c.Strategy == Hierarchical && (c.ParentMaxTokens <= c.MaxTokens || c.ParentMaxTokens > 8192) {
		return fmt.Errorf("%w: parent_max_tokens %d must exceed max_tokens %d and be at most 8192", ErrInvalidConfig, c.ParentMaxTokens, c.MaxTokens)
	}
	return nil
}

// Chunk is one passage to index.
type Chunk struct {
	// Index is the chunk's position within the document, from 0.
	Index int `json:"index"`
	// Text is what is embedded and searched.
	Text string `json:"text"`
	// Page is the page the chunk starts on (0 when the format has no pages).
	Page int `json:"page,omitempty"`
	// EndPage is the page the chunk ends on when that is a later page than Page (a
	// chunk that runs over a page break), else 0.
	EndPage int `json:"end_page,omitempty"`
	// Heading is the heading path of the section the chunk starts in.
	Heading string `json:"heading,omitempty"`
	// Parent is the enclosing parent passage for Hierarchical chunks: retrieval returns it
	// in place of Text.
	Parent string `json:"parent,omitempty"`
	// ParentIndex numbers the parent within the document (Hierarchical only).
	ParentIndex int `json:"parent_index,omitempty"`
	// Tokens is the chunk's token count.
	Tokens int `json:"tokens"`
}

// Span is a token's byte range in a string.
type Span struct{ Start, End int }

// Tokens returns the token spans of s (see the package comment). Spaces are not tokens.
func Tokens(s string) []Span {
	var out []Span
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += n
		case isWord(r):
			j := i + n
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if !isWord(r2) {
					break
				}
				j += n2
			}
			out = append(out, Span{i, j})
			i = j
		default:
			out = append(out, Span{i, i + n})
			i += n
		}
	}
	return out
}

func isWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// Split chunks a document's sections with cfg.
func Split(secs []extract.Section, cfg Config) ([]Chunk, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	var out []Chunk
	switch cfg.Strategy {
	case None:
		for _, s := range secs {
			out = append(out, Chunk{Text: s.Text, Page: s.Page, Heading: s.Heading})
		}
	case Fixed:
		doc := join(secs)
		for _, w := range doc.windows(0, len(doc.text), cfg.MaxTokens, overlapTokens(cfg)) {
			out = append(out, w.Chunk)
		}
	case Recursive:
		for _, s := range secs {
			for _, t := range recursive(s.Text, cfg.MaxTokens, overlapTokens(cfg)) {
				out = append(out, Chunk{Text: t, Page: s.Page, Heading: s.Heading})
			}
		}
	case Hierarchical:
		doc := join(secs)
		parents := doc.windows(0, len(doc.text), cfg.ParentMaxTokens, 0)
		for pi, p := range parents {
			for _, c := range doc.windows(p.start, p.end, cfg.MaxTokens, overlapTokens(cfg)) {
				c.Parent = strings.TrimSpace(p.Text)
				c.ParentIndex = pi
				out = append(out, c.Chunk)
			}
		}
	}
	res := out[:0]
	for _, c := range out {
		c.Text = strings.TrimSpace(c.Text)
		if c.Text == "" {
			continue
		}
		c.Index = len(res)
		c.Tokens = tokens.Count(c.Text)
		res = append(res, c)
	}
	return res, nil
}

func overlapTokens(c Config) int { return c.MaxTokens * *c.OverlapPercent / 100 }

// Percent returns a pointer to p, for Config.OverlapPercent.
func Percent(p int) *int { return &p }

// document is the sections joined into one text, remembering where each section starts.
type document struct {
	text   string
	starts []int
	secs   []extract.Section
	spans  []Span
}

func join(secs []extract.Section) *document {
	d := &document{secs: secs}
	var b strings.Builder
	for i, s := range secs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		d.starts = append(d.starts, b.Len())
		b.WriteString(s.Text)
	}
	d.text = b.String()
	d.spans = Tokens(d.text)
	return d
}

// sectionAt returns the section containing byte offset off.
func (d *document) sectionAt(off int) extract.Section {
	lo, hi := 0, len(d.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if d.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo < 0 || lo >= len(d.secs) {
		return extract.Section{}
	}
	return d.secs[lo]
}

type window struct {
	Chunk
	start, end int
}

// windows cuts the tokens inside [from, to) into windows of size tokens, consecutive
// windows sharing overlap tokens.
func (d *document) windows(from, to, size, overlap int) []window {
	first := searchSpan(d.spans, from)
	last := searchSpan(d.spans, to)
	step := size - overlap
	if step < 1 {
		step = 1
	}
	var out []window
	for i := first; i < last; i += step {
		j := min(i+size, last)
		start, end := d.spans[i].Start, d.spans[j-1].End
		sec := d.sectionAt(start)
		c := Chunk{Text: d.text[start:end], Page: sec.Page, Heading: sec.Heading}
		if last := d.sectionAt(end - 1); last.Page > c.Page {
			c.EndPage = last.Page
		}
		out = append(out, window{Chunk: c, start: start, end: end})
		if j == last {
			break
		}
	}
	return out
}

// searchSpan returns the index of the first span starting at or after off.
func searchSpan(spans []Span, off int) int {
	lo, hi := 0, len(spans)
	for lo < hi {
		mid := (lo + hi) / 2
		if spans[mid].Start < off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// separators are tried in order, coarsest first.
var separators = []string{"\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " "}

// recursive splits text into pieces of at most max tokens at the coarsest boundaries
// possible and packs neighbouring pieces back together up to max tokens.
func recursive(text string, max, overlap int) []string {
	pieces := splitPieces(text, max, 0)
	var (
		out  []string
		cur  []string
		ntok []int
		sum  int
	)
	emit := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, ""))
		}
	}
	for _, p := range pieces {
		n := tokens.Count(p)
		if sum+n > max && len(cur) > 0 {
			emit()
			// Carry trailing pieces up to overlap tokens into the next chunk.
			keep := 0
			for k := len(cur) - 1; k >= 0 && keep+ntok[k] <= overlap && sum-ntok[k] > 0; k-- {
				keep += ntok[k]
			}
			var c2 []string
			var n2 []int
			acc := 0
			for k := len(cur) - 1; k >= 0 && acc+ntok[k] <= keep; k-- {
				c2 = append([]string{cur[k]}, c2...)
				n2 = append([]int{ntok[k]}, n2...)
				acc += ntok[k]
			}
			if acc+n > max {
				c2, n2, acc = nil, nil, 0
			}
			cur, ntok, sum = c2, n2, acc
		}
		cur = append(cur, p)
		ntok = append(ntok, n)
		sum += n
	}
	emit()
	return out
}

// splitPieces cuts text at separators[level] (keeping the separator with the left piece)
// and recurses into pieces still over max tokens; at the last level it cuts token windows.
func splitPieces(text string, max, level int) []string {
	if tokens.Count(text) <= max {
		return []string{text}
	}
	if level >= len(separators) {
		spans := Tokens(text)
		var out []string
		for i := 0; i < len(spans); i += max {
			j := min(i+max, len(spans))
			end := len(text)
			if j < len(spans) {
				end = spans[j].Start
			}
			start := spans[i].Start
			if i == 0 {
				start = 0
			}
			out = append(out, text[start:end])
		}
		return out
	}
	sep := separators[level]
	parts := strings.SplitAfter(text, sep)
	if len(parts) == 1 {
		return splitPieces(text, max, level+1)
	}
	var out []string
	for _, p := range parts {
		if p == "" {
			continue
		}
		out = append(out, splitPieces(p, max, level+1)...)
	}
	return out
}
