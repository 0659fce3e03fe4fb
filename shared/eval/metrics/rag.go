package metrics

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// RAG metrics. They are lexical proxies, deterministic and free: relevance and support
// are decided by content-token overlap (rouge-score tokens minus English stopwords),
// not by a model. The thresholds are documented on RAGOptions; LLM-judged faithfulness
// is available separately as the judge's faithfulness rubric.

// RAGOptions hold the overlap thresholds of the lexical RAG metrics.
type RAGOptions struct {
	// RelevanceThreshold: a retrieved context matches a reference context when it
	// contains at least this fraction of the reference's content tokens (default 0.5).
	RelevanceThreshold float64
	// SupportThreshold: a context supports an answer sentence when it contains at least
	// this fraction of the sentence's content tokens (default 0.6).
	SupportThreshold float64
}

// DefaultRAGOptions are the thresholds used when none are given.
var DefaultRAGOptions = RAGOptions{RelevanceThreshold: 0.5, SupportThreshold: 0.6}

var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if of to in on at by for with from as is are was were be been
		being it its this that these those there here he she they we you i me my our your their his her them us
		do does did has have had not no so than then too very can will would should could may might must shall
		what which who whom whose when where why how about into over under again further once also just only s t`) {
		m[w] = true
	}
	return m
}()

// contentTokens returns the lower-cased alphanumeric tokens of s without stopwords.
func contentTokens(s string) []string {
	toks := ROUGETokenize(s, nil)
	out := toks[:0]
	for _, t := range toks {
		if !stopwords[t] {
			out = append(out, t)
		}
	}
	return out
}

// coverage is the fraction of need's distinct tokens found in have.
func coverage(need []string, have map[string]bool) float64 {
	if len(need) == 0 {
		return 0
	}
	seen := map[string]bool{}
	hit := 0
	for _, t := range need {
		if seen[t] {
			continue
		}
		seen[t] = true
		if have[t] {
			hit++
		}
	}
	return float64(hit) / float64(len(seen))
}

func tokenSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, t := range contentTokens(s) {
		m[t] = true
	}
	return m
}

func (o RAGOptions) withDefaults() RAGOptions {
	if o.RelevanceThreshold <= 0 {
		o.RelevanceThreshold = DefaultRAGOptions.RelevanceThreshold
	}
	if o.SupportThreshold <= 0 {
		o.SupportThreshold = DefaultRAGOptions.SupportThreshold
	}
	return o
}

// relevant reports whether retrieved matches any reference context.
func (o RAGOptions) relevant(retrieved map[string]bool, refs [][]string) bool {
	for _, r := range refs {
		if coverage(r, retrieved) >= o.RelevanceThreshold {
			return true
		}
	}
	return false
}

// ContextPrecision is rank-aware precision of the retrieved contexts (as RAGAS defines
// it): the mean of precision@k over the ranks k that hold a relevant context, where a
// retrieved context is relevant when it matches a reference context. ok is false when
// nothing was retrieved or there are no reference contexts.
func ContextPrecision(retrieved, reference []string, o RAGOptions) (score float64, ok bool) {
	o = o.withDefaults()
	if len(retrieved) == 0 || len(reference) == 0 {
		return 0, false
	}
	refs := make([][]string, len(reference))
	for i, r := range reference {
		refs[i] = contentTokens(r)
	}
	hits, sum := 0, 0.0
	for k, c := range retrieved {
		if o.relevant(tokenSet(c), refs) {
			hits++
			sum += float64(hits) / float64(k+1)
		}
	}
	if hits == 0 {
		return 0, true
	}
	return sum / float64(hits), true
}

// ContextRecall is the fraction of reference contexts matched by at least one
// retrieved context. ok is false when there are no reference contexts.
func ContextRecall(retrieved, reference []string, o RAGOptions) (score float64, ok bool) {
	o = o.withDefaults()
	if len(reference) == 0 {
		return 0, false
	}
	sets := make([]map[string]bool, len(retrieved))
	for i, c := range retrieved {
		sets[i] = tokenSet(c)
	}
	found := 0
	for _, r := range reference {
		rt := contentTokens(r)
		for _, s := range sets {
			if coverage(rt, s) >= o.RelevanceThreshold {
				found++
				break
			}
		}
	}
	return float64(found) / float64(len(reference)), true
}

var reCitation = regexp.MustCompile(`\[(\d+(?:\s*,\s*\d+)*)\]`)

// SplitSentences splits text into sentences at ., ! or ? followed by whitespace (or
// the end) and at line breaks; a period between digits or after a single letter (an
// initial, "e.g") does not end a sentence. Citation markers stay with their sentence.
func SplitSentences(text string) []string {
	var out []string
	rs := []rune(text)
	start := 0
	flush := func(end int) {
		if s := strings.TrimSpace(string(rs[start:end])); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r == '\n' {
			flush(i + 1)
			continue
		}
		if r != '.' && r != '!' && r != '?' {
			continue
		}
		j := i + 1
		for j < len(rs) && (rs[j] == '.' || rs[j] == '!' || rs[j] == '?' || rs[j] == '"' || rs[j] == ')') {
			j++
		}
		// keep trailing citation markers such as "... Paris. [1]" with the sentence.
		for {
			k := j
			for k < len(rs) && rs[k] == ' ' {
				k++
			}
			if m := reCitation.FindStringIndex(string(rs[k:])); m != nil && m[0] == 0 {
				j = k + len([]rune(string(rs[k:])[:m[1]]))
				continue
			}
			break
		}
		if j < len(rs) && !unicode.IsSpace(rs[j]) {
			continue
		}
		if r == '.' {
			n := 0
			for k := i - 1; k >= 0 && unicode.IsLetter(rs[k]); k-- {
				n++
			}
			if n == 1 {
				continue // a single-letter initial such as "J." or the end of "e.g."
			}
		}
		flush(j)
		i = j - 1
	}
	flush(len(rs))
	return out
}

// supports reports whether ctx holds enough of the sentence's content tokens.
func (o RAGOptions) supports(sentence []string, ctx map[string]bool) bool {
	return len(sentence) > 0 && coverage(sentence, ctx) >= o.SupportThreshold
}

// Faithfulness is the fraction of the answer's sentences (claims) supported by at least
// one retrieved context, citation markers removed. ok is false when the answer has no
// sentence with content tokens or there are no contexts.
func Faithfulness(answer string, contexts []string, o RAGOptions) (score float64, ok bool) {
	o = o.withDefaults()
	if len(contexts) == 0 {
		return 0, false
	}
	sets := make([]map[string]bool, len(contexts))
	for i, c := range contexts {
		sets[i] = tokenSet(c)
	}
	claims, supported := 0, 0
	for _, s := range SplitSentences(answer) {
		toks := contentTokens(reCitation.ReplaceAllString(s, " "))
		if len(toks) == 0 {
			continue
		}
		claims++
		for _, set := range sets {
			if o.supports(toks, set) {
				supported++
				break
			}
		}
	}
	if claims == 0 {
		return 0, false
	}
	return float64(supported) / float64(claims), true
}

// CitationPrecision is the fraction of citation markers [n] (1-based context numbers,
// "[1, 3]" cites two) whose context supports the sentence carrying the marker; a marker
// naming a context that does not exist counts as wrong. ok is false without markers.
func CitationPrecision(answer string, contexts []string, o RAGOptions) (score float64, ok bool) {
	o = o.withDefaults()
	sets := make([]map[string]bool, len(contexts))
	for i, c := range contexts {
		sets[i] = tokenSet(c)
	}
	total, correct := 0, 0
	for _, s := range SplitSentences(answer) {
		toks := contentTokens(reCitation.ReplaceAllString(s, " "))
		for _, m := range reCitation.FindAllStringSubmatch(s, -1) {
			for _, part := range strings.Split(m[1], ",") {
				n, err := strconv.Atoi(strings.TrimSpace(part))
				if err != nil {
					continue
				}
				total++
				if n >= 1 && n <= len(sets) && o.supports(toks, sets[n-1]) {
					correct++
				}
			}
		}
	}
	if total == 0 {
		return 0, false
	}
	return float64(correct) / float64(total), true
}
