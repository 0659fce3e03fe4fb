package localtune

import (
	"strings"

	"github.com/plinth-ai/plinth/shared/eval/metrics"
)

// whType is the kind of question a prompt asks, from its wh-word.
type whType uint8

const (
	whNone whType = iota
	whWho
	whWhen
	whWhere
	whWhy
	whWhich
	whWhat
	whHowMany
	whHowLong
	whHow
)

var whWords = map[string]whType{
	"who": whWho, "whom": whWho, "whose": whWho, "when": whWhen, "where": whWhere,
	"why": whWhy, "which": whWhich, "what": whWhat, "how": whHow,
}

// stopWords carry no topic; they never count as question words.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the of in on at to for from by with and or but is are was were be been
		being do does did has have had it its this that these those as into than then there their they them he
		she his her him we our you your i me my not no so if about after before during what which who whom whose
		when where why how many much can could would should will shall may might must also such other some any
		each most more one s question context answer`) {
		m[w] = true
	}
	return m
}()

// analysed is a prompt prepared for scoring: its tokens, sentences, the question and
// how close each token sits to the question's words.
type analysed struct {
	text      string
	toks      []token
	sentOf    []int32
	sentFirst []bool
	// qFrom is the first token of the question (len(toks) when there is none).
	qFrom  int
	wh     whType
	whNext uint64 // hash of the word after the wh-word ("year" in "what year")
	isQ    []bool // the token's stem is a content word of the question
	qTotal int    // distinct content words in the question
	// qHashes are the question's first distinct content words (at most maxQWords).
	qHashes []uint64
	sentOv  []uint8
	win4    []uint8
	win12   []uint8
	near    []uint8
	winW    []uint8 // question words within 6 tokens, weighted by rarity in the prompt
	norms   map[uint64]struct{}
}

// maxQWords bounds the question words that condition generated words.
const maxQWords = 8

var stemmer metrics.PorterStemmer

func stemOf(norm string) string {
	if len(norm) > 40 {
		return norm
	}
	return stemmer.Stem(norm)
}

// analyse prepares prompt text. The question is the last non-empty line; when the
// prompt is one line, its last sentence.
func analyse(text string) *analysed {
	a := &analysed{text: text, toks: tokenize(text)}
	n := len(a.toks)
	a.sentOf = make([]int32, n)
	a.sentFirst = make([]bool, n)
	a.isQ = make([]bool, n)
	a.win4 = make([]uint8, n)
	a.win12 = make([]uint8, n)
	a.near = make([]uint8, n)
	a.winW = make([]uint8, n)
	a.norms = make(map[uint64]struct{}, n)
	sent := int32(0)
	for i := range a.toks {
		a.norms[a.toks[i].hash] = struct{}{}
		if i > 0 && a.boundary(i) {
			sent++
		}
		a.sentOf[i] = sent
		a.sentFirst[i] = i == 0 || a.sentOf[i-1] != sent
	}
	a.qFrom = a.questionStart()
	a.classify()
	a.overlaps(int(sent) + 1)
	return a
}

// boundary reports whether token i starts a new sentence: after a line break, or after
// . ! ? unless the next token continues a number or an abbreviation.
func (a *analysed) boundary(i int) bool {
	prev, cur := a.toks[i-1], a.toks[i]
	if strings.ContainsRune(a.text[prev.end:cur.start], '\n') {
		return true
	}
	if prev.shape != shapePunct || (prev.norm != "." && prev.norm != "?" && prev.norm != "!") {
		return false
	}
	return cur.shape != shapeLower && cur.shape != shapeDigit && cur.start > prev.end
}

func (a *analysed) questionStart() int {
	n := len(a.toks)
	if n == 0 {
		return 0
	}
	if nl := strings.LastIndexByte(strings.TrimRight(a.text, " \t\r\n"), '\n'); nl >= 0 {
		for i, t := range a.toks {
			if t.start > nl {
				return i
			}
		}
		return n
	}
	last := a.sentOf[n-1]
	if last == 0 {
		return 0
	}
	for i := n - 1; i >= 0; i-- {
		if a.sentOf[i] != last {
			return i + 1
		}
	}
	return 0
}

// classify finds the question's wh-word and its content words.
func (a *analysed) classify() {
	qStems := map[string]bool{}
	for i := a.qFrom; i < len(a.toks); i++ {
		t := a.toks[i]
		if w, ok := whWords[t.norm]; ok && a.wh == whNone {
			a.wh = w
			if i+1 < len(a.toks) {
				next := a.toks[i+1].norm
				a.whNext = a.toks[i+1].hash
				if w == whHow {
					switch next {
					case "many", "much":
						a.wh = whHowMany
					case "long", "old":
						a.wh = whHowLong
					}
				}
			}
		}
		if t.shape != shapePunct && !stopWords[t.norm] {
			st := stemOf(t.norm)
			if !qStems[st] && len(a.qHashes) < maxQWords {
				a.qHashes = append(a.qHashes, hashString(st))
			}
			qStems[st] = true
		}
	}
	if len(qStems) == 0 {
		return
	}
	for i := 0; i < a.qFrom; i++ {
		t := a.toks[i]
		a.isQ[i] = t.shape != shapePunct && !stopWords[t.norm] && qStems[stemOf(t.norm)]
	}
	a.qTotal = len(qStems)
}

// overlaps fills the sentence overlap (fifths of the question's words present), the
// window counts and the distance to the nearest question word in the same sentence.
func (a *analysed) overlaps(sentences int) {
	ctx := a.qFrom
	perSent := make([]map[string]bool, sentences)
	for i := 0; i < ctx; i++ {
		if a.isQ[i] {
			s := a.sentOf[i]
			if perSent[s] == nil {
				perSent[s] = map[string]bool{}
			}
			perSent[s][stemOf(a.toks[i].norm)] = true
		}
	}
	a.sentOv = make([]uint8, sentences)
	if a.qTotal > 0 {
		for s, m := range perSent {
			a.sentOv[s] = uint8(min(5, (5*len(m)+a.qTotal/2)/a.qTotal))
		}
	}
	counts := map[string]int{}
	for i := 0; i < ctx; i++ {
		if a.isQ[i] {
			counts[stemOf(a.toks[i].norm)]++
		}
	}
	weight := make([]float64, ctx)
	for i := 0; i < ctx; i++ {
		if a.isQ[i] {
			weight[i] = 1 / float64(counts[stemOf(a.toks[i].norm)])
		}
	}
	for i := 0; i < ctx; i++ {
		sum := 0.0
		for j := max(0, i-6); j <= min(ctx-1, i+6); j++ {
			if j != i {
				sum += weight[j]
			}
		}
		a.winW[i] = uint8(min(8, int(sum*2+0.5)))
		a.win4[i] = a.windowCount(i, 4, ctx)
		a.win12[i] = a.windowCount(i, 12, ctx)
		a.near[i] = a.nearest(i, ctx)
	}
}

func (a *analysed) windowCount(i, w, limit int) uint8 {
	n := 0
	for j := max(0, i-w); j <= min(limit-1, i+w); j++ {
		if j != i && a.isQ[j] {
			n++
		}
	}
	return uint8(min(n, 5))
}

func (a *analysed) nearest(i, limit int) uint8 {
	best := 0
	for d := 1; d <= 10; d++ {
		for _, j := range [2]int{i - d, i + d} {
			if j >= 0 && j < limit && a.isQ[j] && a.sentOf[j] == a.sentOf[i] {
				best = d
				break
			}
		}
		if best > 0 {
			break
		}
	}
	switch {
	case best == 0:
		return 0
	case best <= 3:
		return uint8(best)
	case best <= 5:
		return 4
	default:
		return 5
	}
}

// glued reports whether token i follows token i-1 with no space between them.
func (a *analysed) glued(i int) bool {
	return i > 0 && i < len(a.toks) && a.toks[i].start == a.toks[i-1].end
}

// shapeAt returns the shape of token i, or 0 past either end.
func (a *analysed) shapeAt(i int) shape {
	if i < 0 || i >= len(a.toks) {
		return 0
	}
	return a.toks[i].shape
}

// hashAt returns the hash of token i's lower-case form, or 0 past either end.
func (a *analysed) hashAt(i int) uint64 {
	if i < 0 || i >= len(a.toks) {
		return 0
	}
	return a.toks[i].hash
}
