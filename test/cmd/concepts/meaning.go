package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// maxSenses is how many of a word's most frequent senses per part of speech the meaning
// table keeps.
const maxSenses = 3

// synset is one WordNet synset as the meaning table needs it.
type synset struct {
	hyper  []string // @ and @i: broader synsets
	domain []string // ;c: the topic domain ("finance", "medicine")
	rel    []string // +, \, &, =: derivations, pertainyms, similar and attribute links
	gloss  []string // content words of the definition (not its quoted examples)
	member []string // its lemmas of one or two words, lower case ("fund", "monetary_fund")
}

// glossStop are words too common to say anything in a definition.
var glossStop = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`the and for that with from into onto this these those which who whom whose
		what when where how not any all some such other than then there their them they its his her
		one two has have had having are was were been being can could may might must shall should will would
		about above after again against below between both but down during each few more most off once only
		own same very just also often usually especially something someone somebody anything etc used use
		make made being esp e.g i.e way kind part act state quality`) {
		glossStop[w] = true
	}
}

// glossWords returns the content words of a synset's gloss: the text before its first
// quoted example, lower case, words of three letters or more that are not glossStop.
func glossWords(gloss string) []string {
	if i := strings.IndexByte(gloss, '"'); i >= 0 {
		gloss = gloss[:i]
	}
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(gloss), func(r rune) bool { return r < 'a' || r > 'z' }) {
		if len(w) < 3 || glossStop[w] || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

// readSynsets reads every data file into synsets keyed by part-of-speech letter + offset
// (satellite adjectives are "a" like their heads).
func readSynsets(dir string) (map[string]*synset, error) {
	out := map[string]*synset{}
	for _, pos := range []struct{ file, letter string }{{"noun", "n"}, {"verb", "v"}, {"adj", "a"}, {"adv", "r"}} {
		f, err := os.Open(filepath.Join(dir, "data."+pos.file))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "  ") {
				continue
			}
			gloss := ""
			if i := strings.Index(line, " | "); i >= 0 {
				line, gloss = line[:i], line[i+3:]
			}
			fl := strings.Fields(line)
			if len(fl) < 4 {
				continue
			}
			wc, err := strconv.ParseInt(fl[3], 16, 32)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("data.%s %s: %w", pos.file, fl[0], err)
			}
			k := 4 + 2*int(wc)
			s := &synset{gloss: glossWords(gloss)}
			for m := 0; m < int(wc) && 5+2*m < len(fl); m++ {
				lemma := strings.ToLower(fl[4+2*m])
				if i := strings.IndexByte(lemma, '('); i >= 0 {
					lemma = lemma[:i] // adjective markers: "(a)", "(p)", "(ip)"
				}
				if strings.Count(lemma, "_") <= 1 && !slices.Contains(s.member, lemma) {
					s.member = append(s.member, lemma)
				}
			}
			out[pos.letter+fl[0]] = s
			if k >= len(fl) {
				continue
			}
			pc, err := strconv.Atoi(fl[k])
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("data.%s %s: %w", pos.file, fl[0], err)
			}
			for p := 0; p < pc; p++ {
				b := k + 1 + 4*p
				if b+2 >= len(fl) {
					break
				}
				tp := fl[b+2]
				if tp == "s" {
					tp = "a"
				}
				target := tp + fl[b+1]
				switch fl[b] {
				case "@", "@i":
					s.hyper = append(s.hyper, target)
				case ";c":
					s.domain = append(s.domain, target)
				case "+", "\\", "&", "=":
					s.rel = append(s.rel, target)
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readSenses reads the index files: each lemma of the vocabulary (single words, and
// two-word collocations of vocabulary words, joined by "_") with its most frequent senses,
// nouns first, then verbs, adjectives and adverbs.
func readSenses(dir string, vocab map[string]bool) (map[string][]string, error) {
	out := map[string][]string{}
	for _, pos := range []struct{ file, letter string }{{"noun", "n"}, {"verb", "v"}, {"adj", "a"}, {"adv", "r"}} {
		f, err := os.Open(filepath.Join(dir, "index."+pos.file))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "  ") {
				continue
			}
			fl := strings.Fields(line)
			if len(fl) < 4 || !inVocab(fl[0], vocab) {
				continue
			}
			n, err := strconv.Atoi(fl[2])
			if err != nil || n < 1 || n > len(fl) {
				continue
			}
			offs := fl[len(fl)-n:]
			for i := 0; i < len(offs) && i < maxSenses; i++ {
				out[fl[0]] = append(out[fl[0]], pos.letter+offs[i])
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func inVocab(lemma string, vocab map[string]bool) bool {
	a, b, two := strings.Cut(lemma, "_")
	if !two {
		return vocab[lemma]
	}
	return vocab[a] && vocab[b] && !strings.Contains(b, "_")
}

// reach is what a specificity count sees of a word: its senses, their broader synsets two
// levels up, their domains and their derivations.
func reach(senses []string, syn map[string]*synset, into map[string]bool) {
	for _, s := range senses {
		into[s] = true
		ss := syn[s]
		if ss == nil {
			continue
		}
		for _, d := range ss.domain {
			into[d] = true
		}
		for _, r := range ss.rel {
			into[r] = true
		}
		for _, h := range ss.hyper {
			into[h] = true
			if hs := syn[h]; hs != nil {
				for _, d := range hs.domain {
					into[d] = true
				}
				for _, h2 := range hs.hyper {
					into[h2] = true
				}
			}
		}
	}
}

// writeMeaning writes the meaning table, dense and in three parts after a header line
// "meaning<TAB>terms<TAB>synsets": the terms (definition words and member lemmas), one a
// line with their specificity (10×ln(first senses / first senses whose definition has
// it), 0 when no definition has it); the synsets in index order, one a line: 10×ln(lemmas
// / lemmas reaching it), then tab-separated lists of indexes tagged h (broader synsets), d
// (topic domains), r (related: derivations, pertainyms, similar, attributes), g
// (definition terms, for most frequent senses only) and m (member lemmas that are lemmas
// of the table); and the lemmas: word, senses (part-of-speech letter + synset index, most
// frequent first per part of speech) and how often they were tagged in WordNet's
// semantic concordance.
func writeMeaning(dir string, vocab map[string]bool, out string) error {
	syn, err := readSynsets(dir)
	if err != nil {
		return err
	}
	senses, err := readSenses(dir, vocab)
	if err != nil {
		return err
	}
	df := map[string]int{}
	seen := map[string]bool{}
	for _, ss := range senses {
		clear(seen)
		reach(ss, syn, seen)
		for s := range seen {
			df[s]++
		}
	}
	// Definitions are read only for the most frequent sense of each part of speech of a
	// lemma; member lemmas are kept when they are lemmas of the table themselves.
	first := map[string]bool{}
	for _, ss := range senses {
		for i, s := range ss {
			if i == 0 || s[0] != ss[i-1][0] {
				first[s] = true
			}
		}
	}
	ids := make([]string, 0, len(syn))
	for s := range syn {
		ids = append(ids, s)
	}
	sort.Strings(ids)
	index := make(map[string]int, len(ids))
	for i, s := range ids {
		index[s] = i
	}
	glossDF := map[string]int{}
	for s := range first {
		for _, g := range syn[s].gloss {
			glossDF[g]++
		}
	}
	termSet := map[string]bool{}
	for g := range glossDF {
		termSet[g] = true
	}
	for _, ss := range syn {
		for _, m := range ss.member {
			if senses[m] != nil {
				termSet[m] = true
			}
		}
	}
	terms := make([]string, 0, len(termSet))
	for t := range termSet {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	termIndex := make(map[string]int, len(terms))
	for i, t := range terms {
		termIndex[t] = i
	}
	n := float64(len(senses))
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	fmt.Fprintf(gz, "meaning\t%d\t%d\n", len(terms), len(ids))
	for _, t := range terms {
		idf := 0
		if df := glossDF[t]; df > 0 {
			idf = max(0, int(math.Round(10*math.Log(float64(len(first))/float64(1+df)))))
		}
		fmt.Fprintf(gz, "%s\t%d\n", t, idf)
	}
	list := func(l []string, idx map[string]int, keep func(string) bool) string {
		var b strings.Builder
		for _, t := range l {
			if i, ok := idx[t]; ok && keep(t) {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.Itoa(i))
			}
		}
		return b.String()
	}
	all := func(string) bool { return true }
	for _, s := range ids {
		ss := syn[s]
		idf := max(0, int(math.Round(10*math.Log(n/float64(1+df[s])))))
		fmt.Fprintf(gz, "%d", idf)
		gloss := []string(nil)
		if first[s] {
			gloss = ss.gloss
		}
		for _, l := range []struct {
			tag  string
			list string
		}{{"h", list(ss.hyper, index, all)}, {"d", list(ss.domain, index, all)}, {"r", list(ss.rel, index, all)},
			{"g", list(gloss, termIndex, all)}, {"m", list(ss.member, termIndex, func(m string) bool { return senses[m] != nil })}} {
			if l.list != "" {
				fmt.Fprintf(gz, "\t%s%s", l.tag, l.list)
			}
		}
		fmt.Fprintln(gz)
	}
	words := make([]string, 0, len(senses))
	for w := range senses {
		words = append(words, w)
	}
	sort.Strings(words)
	counts, err := tagCounts(filepath.Join(dir, "cntlist.rev"))
	if err != nil {
		return err
	}
	for _, w := range words {
		var b strings.Builder
		for i, s := range senses[w] {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%c%d", s[0], index[s])
		}
		fmt.Fprintf(gz, "%s\t%s\t%d\n", w, b.String(), counts[w])
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("%d lemmas, %d synsets, %d terms; wrote %s (%d bytes)\n", len(words), len(ids), len(terms), out, buf.Len())
	return nil
}

// tagCounts sums, per lemma, how often its senses were tagged in WordNet's semantic
// concordance (cntlist.rev): a corpus frequency for content words.
func tagCounts(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) != 3 {
			continue
		}
		lemma, _, _ := strings.Cut(fl[0], "%")
		n, err := strconv.Atoi(fl[2])
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
		}
		out[lemma] += n
	}
	return out, sc.Err()
}
