package metrics

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// ErrUnknownMetric means a metric or metric variant name is not recognised.
var ErrUnknownMetric = errors.New("unknown metric")

// ErrNoReference means BLEU was asked to score a segment that has no non-empty
// reference (sacreBLEU refuses such input too).
var ErrNoReference = errors.New("no non-empty reference")

// BLEUMaxOrder is sacreBLEU's default maximum n-gram order.
const BLEUMaxOrder = 4

var (
	re13aSymbols    = regexp.MustCompile(`([{-~\[-\x60 -&(-+:-@/])`)
	re13aPeriodPre  = regexp.MustCompile(`([^0-9])([.,])`)
	re13aPeriodPost = regexp.MustCompile(`([.,])([^0-9])`)
	re13aDash       = regexp.MustCompile(`([0-9])(-)`)
)

// Tokenize13a is sacreBLEU's default "13a" tokenizer (mteval-v13a's tokenisation):
// it drops "<skipped>", joins hyphenated line breaks, unescapes four XML entities,
// separates punctuation and symbols, separates periods and commas except inside
// numbers, separates a dash after a digit, and collapses whitespace.
func Tokenize13a(line string) string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	if strings.Contains(line, "&") {
		line = strings.ReplaceAll(line, "&quot;", `"`)
		line = strings.ReplaceAll(line, "&amp;", "&")
		line = strings.ReplaceAll(line, "&lt;", "<")
		line = strings.ReplaceAll(line, "&gt;", ">")
	}
	line = " " + line + " "
	line = re13aSymbols.ReplaceAllString(line, " ${1} ")
	line = re13aPeriodPre.ReplaceAllString(line, "${1} ${2} ")
	line = re13aPeriodPost.ReplaceAllString(line, " ${1} ${2}")
	line = re13aDash.ReplaceAllString(line, "${1} ${2} ")
	return strings.Join(pySplit(line), " ")
}

// BLEUStats are one segment's (or a summed corpus's) sufficient statistics, as
// sacreBLEU's [hyp_len, ref_len, correct..., total...].
type BLEUStats struct {
	SysLen  int               `json:"sys_len"`
	RefLen  int               `json:"ref_len"`
	Correct [BLEUMaxOrder]int `json:"correct"`
	Total   [BLEUMaxOrder]int `json:"total"`
}

// Add accumulates o into s.
func (s *BLEUStats) Add(o BLEUStats) {
	s.SysLen += o.SysLen
	s.RefLen += o.RefLen
	for i := range s.Correct {
		s.Correct[i] += o.Correct[i]
		s.Total[i] += o.Total[i]
	}
}

// BLEUScore is a BLEU result on the 0–100 scale with its components.
type BLEUScore struct {
	Score      float64               `json:"score"`
	Precisions [BLEUMaxOrder]float64 `json:"precisions"`
	BP         float64               `json:"bp"`
	Stats      BLEUStats             `json:"stats"`
}

// String formats the score as sacreBLEU prints it.
func (b BLEUScore) String() string {
	ratio := 0.0
	if b.Stats.RefLen > 0 {
		ratio = float64(b.Stats.SysLen) / float64(b.Stats.RefLen)
	}
	return fmt.Sprintf("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		b.Score, b.Precisions[0], b.Precisions[1], b.Precisions[2], b.Precisions[3], b.BP, ratio, b.Stats.SysLen, b.Stats.RefLen)
}

func bleuNgrams(toks []string) map[string]int {
	m := make(map[string]int, len(toks)*BLEUMaxOrder)
	for n := 1; n <= BLEUMaxOrder; n++ {
		for i := 0; i+n <= len(toks); i++ {
			m[strings.Join(toks[i:i+n], " ")]++
		}
	}
	return m
}

// SegmentBLEUStats tokenises hyp and refs with 13a (after stripping trailing
// whitespace, as sacreBLEU does) and returns the segment's statistics: n-gram matches
// clipped by the maximum count over references and the closest reference length (the
// shorter one on ties). Empty references are ignored; ErrNoReference when none is left.
func SegmentBLEUStats(hyp string, refs []string) (BLEUStats, error) {
	var st BLEUStats
	refNgrams := map[string]int{}
	var refLens []int
	for _, r := range refs {
		if r == "" {
			continue
		}
		toks := pySplit(Tokenize13a(strings.TrimRightFunc(r, pyIsSpace)))
		refLens = append(refLens, len(toks))
		for g, c := range bleuNgrams(toks) {
			if c > refNgrams[g] {
				refNgrams[g] = c
			}
		}
	}
	if len(refLens) == 0 {
		return st, ErrNoReference
	}
	htoks := pySplit(Tokenize13a(strings.TrimRightFunc(hyp, pyIsSpace)))
	st.SysLen = len(htoks)
	st.RefLen = closestRefLen(st.SysLen, refLens)
	for g, c := range bleuNgrams(htoks) {
		n := strings.Count(g, " ")
		st.Total[n] += c
		if rc, ok := refNgrams[g]; ok {
			st.Correct[n] += min(c, rc)
		}
	}
	return st, nil
}

func closestRefLen(hypLen int, refLens []int) int {
	closestDiff, closestLen := -1, -1
	for _, rl := range refLens {
		diff := hypLen - rl
		if diff < 0 {
			diff = -diff
		}
		if closestDiff == -1 || diff < closestDiff {
			closestDiff, closestLen = diff, rl
		} else if diff == closestDiff && rl < closestLen {
			closestLen = rl
		}
	}
	return closestLen
}

// pyMyLog is sacreBLEU's my_log: log(0) is -9999999999.
func pyMyLog(x float64) float64 {
	if x == 0 {
		return -9999999999
	}
	return math.Log(x)
}

// ComputeBLEU turns statistics into a score with sacreBLEU's exponential smoothing
// ("exp", NIST's method 3). effectiveOrder stops at the highest n-gram order the
// hypothesis has, as sentence-level BLEU does.
func ComputeBLEU(st BLEUStats, effectiveOrder bool) BLEUScore {
	out := BLEUScore{Stats: st, BP: 1}
	if st.SysLen < st.RefLen {
		if st.SysLen > 0 {
			out.BP = math.Exp(1 - float64(st.RefLen)/float64(st.SysLen))
		} else {
			out.BP = 0
		}
	}
	anyCorrect := false
	for _, c := range st.Correct {
		if c != 0 {
			anyCorrect = true
		}
	}
	if !anyCorrect {
		return out
	}
	smooth := 1.0
	eff := BLEUMaxOrder
	for n := 1; n <= BLEUMaxOrder; n++ {
		if st.Total[n-1] == 0 {
			break
		}
		if effectiveOrder {
			eff = n
		}
		if st.Correct[n-1] == 0 {
			smooth *= 2
			out.Precisions[n-1] = 100 / (smooth * float64(st.Total[n-1]))
		} else {
			out.Precisions[n-1] = 100 * float64(st.Correct[n-1]) / float64(st.Total[n-1])
		}
	}
	sum := 0.0
	for _, p := range out.Precisions[:eff] {
		sum += pyMyLog(p)
	}
	out.Score = out.BP * math.Exp(sum/float64(eff))
	return out
}

// CorpusBLEU is sacreBLEU's corpus_bleu(hyps, ref_streams) with default settings, with
// refs[i] holding every reference of hyps[i] (sacreBLEU's streams transposed).
func CorpusBLEU(hyps []string, refs [][]string) (BLEUScore, error) {
	if len(hyps) != len(refs) {
		return BLEUScore{}, fmt.Errorf("corpus bleu: %d hypotheses but %d reference sets", len(hyps), len(refs))
	}
	var total BLEUStats
	for i, h := range hyps {
		st, err := SegmentBLEUStats(h, refs[i])
		if err != nil {
			return BLEUScore{}, fmt.Errorf("corpus bleu: segment %d: %w", i, err)
		}
		total.Add(st)
	}
	return ComputeBLEU(total, false), nil
}

// SentenceBLEU is sacreBLEU's sentence_bleu(hyp, refs) with default settings
// (exponential smoothing, effective order on).
func SentenceBLEU(hyp string, refs []string) (BLEUScore, error) {
	st, err := SegmentBLEUStats(hyp, refs)
	if err != nil {
		return BLEUScore{}, fmt.Errorf("sentence bleu: %w", err)
	}
	return ComputeBLEU(st, true), nil
}
