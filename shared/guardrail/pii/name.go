package pii

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

//go:embed data/first_names.txt
var firstNamesText string

//go:embed data/surnames.txt
var surnamesText string

//go:embed data/places.txt
var placesText string

//go:embed data/english.txt.gz
var englishGz []byte

var (
	englishOnce sync.Once
	english     map[string]struct{}
)

// isEnglish reports whether w (lower-case ASCII) is a common English word. The word list
// is decompressed on first use.
func isEnglish(w string) bool {
	englishOnce.Do(func() {
		english = map[string]struct{}{}
		zr, err := gzip.NewReader(bytes.NewReader(englishGz))
		if err != nil {
			return
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line != "" {
				english[line] = struct{}{}
			}
		}
	})
	_, ok := english[w]
	return ok
}

func wordSet(src string) map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(src, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, w := range strings.Fields(line) {
			m[w] = true
		}
	}
	return m
}

var (
	places     = wordSet(placesText)
	firstNames = wordSet(firstNamesText)
	surnames   = wordSet(surnamesText)
	// notNames are capitalised words that begin sentences, titles and proper nouns other
	// than people: they are never part of a NAME.
	notNames = wordSet(`the a an this that these those there here what which who whom whose when where why how
	i we you he she it they my our your his her its their me us him them is are was were be been do does did
	have has had can could will would should may might must shall not no yes and or but if then so because
	please thanks thank hello hi dear sir madam mr mrs ms dr prof miss st saint mount
	monday tuesday wednesday thursday friday saturday sunday january february march april may june july
	august september october november december today tomorrow yesterday
	street st road rd avenue ave boulevard blvd lane ln drive dr court ct place pl way square apt suite unit box
	north south east west new old great united states kingdom republic city county university college school
	bank group company inc ltd llc gmbh corp corporation foundation institute hospital hotel restaurant airport
	station church museum park river lake mountain island beach center centre office department ministry
	phone email address website name card account number credit debit iban ssn id
	english german french spanish italian american european chinese japanese russian
	im ive id ill youre hes shes were theyre dont cant wont isnt
	orchestra investments associates partners technologies solutions systems services holdings consulting
	media labs industries enterprises international global agency studio studios records band
	rue via viale calle avenida avda rua piazza piazzetta plaza ul strasse weg
	los las san santa santo sao cite port fort al el
	god jesus allah christmas easter internet google amazon apple microsoft facebook twitter`)
	streetWords = wordSet(`street st road rd avenue ave boulevard blvd lane ln drive dr court ct place pl way
	square sq terrace crescent close parkway highway hwy loop row walk alley`)
	placeHeads     = wordSet(`san santa santo sao saint st los las el port fort mount mt lake new north south east west upper lower greater`)
	placeParticles = wordSet(`de del la di da du des dos das y los las le`)
	particles      = wordSet(`van von de da di del der den la le du dos das bin ibn al el ter ten y zu`)
)

var (
	strongBefore = ws("last name? ", "first name? ", "your name? ", "my name is ", "says ", "said ", "starring ",
		"directed by ", "written by ", "played by ", "featuring ", "named him ", "named her ", "my son ", "my daughter ",
		"my kid ", "my wife ", "my husband ", "my friend ", "my boss ", "my partner ", "my mother ", "my father ",
		"my brother ", "my sister ", "my colleague ", "miss ", "mx. ", "name is ", "name: ", "name:", "named ", "called ", "call me ", "mr. ", "mrs. ", "ms. ",
		"dr. ", "mr ", "mrs ", "ms ", "dr ", "prof. ", "dear ", "i'm ", "i am ", "assistant to ", "calls me ",
		"user: ", "signed ", "regards, ", "thanks, ", "sincerely, ", "contact person ", "beneficiary ", "hi ", "hello ")
	weakBefore = ws("by ", "with ", "to ", "says ", "said ", "told ", "from ", "and ", "for ", "of ", ", ", "add ")
	afterName  = ws(" says", " said", "'s ", " lives", " shouted", " was born", " told", " wrote", " and his", " and her", " has ",
		" replied", " asked", " answered", " smiled", " thinks", " thought", " spent", " listed", " will be", ", can ", ", could ", ", please ")
)

type nameTok struct {
	start, end int
	fold       string // lower-case ASCII folding
	kind       byte   // 'C' capitalised word, 'I' initial, 'P' particle, 'l' lower-case word
}

// readWord reads a word at i: letters with internal apostrophes or hyphens.
func readWord(t string, i int) (end int, upperFirst, allLower bool) {
	j := i
	first := true
	allLower = true
	for j < len(t) {
		r, sz := utf8.DecodeRuneInString(t[j:])
		if unicode.IsLetter(r) {
			if first {
				upperFirst = unicode.IsUpper(r)
			} else if unicode.IsUpper(r) {
				allLower = false
			}
			if first && unicode.IsUpper(r) {
				allLower = false
			}
			first = false
			j += sz
			continue
		}
		if (r == '\'' || r == '-' || r == '’') && j > i && j+sz < len(t) {
			r2, _ := utf8.DecodeRuneInString(t[j+sz:])
			if unicode.IsLetter(r2) {
				j += sz
				continue
			}
		}
		break
	}
	return j, upperFirst, allLower
}

// fold is foldWord into the scanner's append-only buffer: no allocation for lower-case
// ASCII words, and one growing buffer per Detect call otherwise.
func (s *scanner) fold(w string) string {
	plain := true
	for k := 0; k < len(w); k++ {
		c := w[k]
		if c >= utf8.RuneSelf || isUpper(c) || c == '\'' || c == '-' {
			plain = false
			break
		}
	}
	if plain {
		return w
	}
	start := len(s.fb)
	for _, r := range w {
		r = unicode.ToLower(r)
		if r < utf8.RuneSelf {
			if r != '\'' && r != '-' {
				s.fb = append(s.fb, byte(r))
			}
			continue
		}
		if f := textnorm.FoldRune(r); f != "" {
			s.fb = append(s.fb, f...)
		} else {
			s.fb = utf8.AppendRune(s.fb, r)
		}
	}
	if len(s.fb) == start {
		return ""
	}
	return unsafe.String(&s.fb[start], len(s.fb)-start)
}

// sentenceStart reports whether position i begins a sentence (start of text or after
// . ! ? : or a line break, ignoring spaces and quotes).
func sentenceStart(t string, i int) bool {
	j := i - 1
	for j >= 0 && (t[j] == ' ' || t[j] == '"' || t[j] == '\'' || t[j] == '>' || t[j] == '\t') {
		j--
	}
	return j < 0 || t[j] == '.' || t[j] == '!' || t[j] == '?' || t[j] == '\n' || t[j] == ':'
}

// name handles a word start that may begin a person's name.
func (s *scanner) name(i int) {
	t := s.text
	if i < s.nameEnd || (i > 0 && t[i-1] == '-') {
		return
	}
	// A lower-case word is a name only right after "my name is", "called", "i'm", "name:".
	if isLower(t[i]) && !(i >= 2 && (t[i-2:i] == "s " || t[i-2:i] == "d " || t[i-2:i] == "m " || t[i-2:i] == "e " || t[i-2:i] == ": ")) {
		return
	}
	var toks [5]nameTok
	n := 0
	j := i
	for n < 5 && j < len(t) {
		e, up, low := readWord(t, j)
		if e == j {
			break
		}
		// A possessive "'s" is not part of the name.
		if e-j > 3 && (strings.HasSuffix(t[j:e], "'s") || strings.HasSuffix(t[j:e], "’s")) {
			if t[e-2] == '\'' {
				e -= 2
			} else {
				e -= len("’s")
			}
		}
		w := t[j:e]
		tok := nameTok{start: j, end: e, fold: s.fold(w)}
		switch {
		case up && utf8.RuneCountInString(w) == 1:
			tok.kind = 'I'
			if e < len(t) && t[e] == '.' {
				tok.end = e + 1
				e++
			}
		case up && !isAllUpper(w) && !camel(w):
			tok.kind = 'C'
		case low && particles[tok.fold] && n > 0:
			tok.kind = 'P'
		case low:
			tok.kind = 'l'
		default:
			tok.kind = 'X'
		}
		if tok.kind == 'X' || (n > 0 && tok.kind == 'l') {
			break
		}
		if tok.kind == 'l' && n == 0 {
			toks[0] = tok
			n = 1
			break
		}
		toks[n] = tok
		n++
		if e >= len(t) || t[e] != ' ' {
			break
		}
		j = e + 1
	}
	if n == 0 {
		return
	}
	if n <= 2 && s.nameList(toks[0]) {
		return
	}
	if toks[0].kind == 'l' {
		s.lowerName(toks[0])
		return
	}
	if toks[0].kind != 'C' {
		return
	}
	// Trim trailing particles and common words.
	for n > 1 && (toks[n-1].kind == 'P' || notNames[toks[n-1].fold]) {
		n--
	}
	for k := 0; k < n; k++ {
		if toks[k].kind == 'C' && notNames[toks[k].fold] {
			if k == 0 {
				return
			}
			n = k
			break
		}
	}
	for n > 1 && toks[n-1].kind == 'P' {
		n--
	}
	// A capitalised common word opening a sentence ("Contact John Smith") is not part of
	// the name that follows it.
	// Neither is a title such as "Chair" or "Senator".
	for n >= 2 && toks[1].kind == 'C' {
		f := toks[0].fold
		if !isEnglish(f) || firstNames[f] || surnames[f] {
			break
		}
		copy(toks[:], toks[1:n])
		n--
	}
	first := toks[0]
	last := toks[n-1]
	// A street or organisation word right after, or a house number before or after,
	// means this is not a person.
	if e := last.end; e+1 < len(t) && t[e] == ' ' {
		ne, _, _ := readWord(t, e+1)
		if f := s.fold(t[e+1 : ne]); notNames[f] && !unitWords[strings.TrimRight(f, ".")] && ne > e+1 && isUpper(t[e+1]) {
			return
		}
		if isDigit(t[e+1]) {
			return
		}
	}
	if b := first.start; b >= 2 && t[b-1] == ' ' && isDigit(t[b-2]) {
		return
	}
	// The word before: a street word ("Kimberly Way Laidlaw Green") means a place.
	if b := first.start; b >= 2 && t[b-1] == ' ' {
		k := b - 1
		for k > 0 && t[k-1] != ' ' && t[k-1] != '\n' {
			k--
		}
		// ("Dr." and "St." are also Doctor and Saint.)
		if prev := strings.TrimRight(s.fold(t[k:b-1]), "."); streetWords[prev] && prev != "dr" && prev != "st" {
			return
		}
	}
	fn := firstNames[first.fold]
	strongCue := s.endsWith(first.start, strongBefore)
	// Places, nationalities and "San Diego"-style place names are not people.
	if !strongCue {
		for k := 0; k < n; k++ {
			if places[toks[k].fold] {
				return
			}
		}
		if b := first.start; b >= 2 && t[b-1] == ' ' {
			k := b - 1
			for k > 0 && t[k-1] != ' ' && t[k-1] != '\n' {
				k--
			}
			if w := t[k : b-1]; startsUpper(w) && placeHeads[strings.TrimRight(s.fold(w), ".")] {
				return
			}
		}
	}
	for k := 1; k < n-1; k++ {
		if toks[k].kind == 'P' && !fn && placeParticles[toks[k].fold] {
			return // "Villafranca del Cid", "Soto del Barco": a place
		}
	}
	// Generational suffixes belong to the name.
	if e := last.end; e+1 < len(t) && t[e] == ' ' {
		for _, suf := range []string{"II", "III", "IV", "Jr.", "Sr.", "Jr", "Sr"} {
			if strings.HasPrefix(t[e+1:], suf) && (e+1+len(suf) == len(t) || !isAlnum(t[e+1+len(suf)])) {
				last.end = e + 1 + len(suf)
				break
			}
		}
	}
	sn := false
	caps := 0
	for k := 0; k < n; k++ {
		if k > 0 && surnames[toks[k].fold] {
			sn = true
		}
		if toks[k].kind == 'C' {
			caps++
		}
	}
	strong := strongCue
	weak := s.endsWith(first.start, weakBefore)
	after := s.context(last.end, last.end, 0, 12, afterName)
	start := sentenceStart(t, first.start)
	// Proper words: capitalised tokens that are not common English words.
	proper := 0
	for k := 0; k < n; k++ {
		if toks[k].kind == 'C' && !isEnglish(toks[k].fold) {
			proper++
		}
	}
	ok := false
	switch {
	case caps >= 2:
		ok = fn || sn || strong || after || proper == caps
	case caps == 1 && n == 1:
		common := isEnglish(first.fold)
		label := !common && s.lineLabel(first)
		ok = strong || label || (fn && (!start || after || !common)) || (fn && weak) || (surnames[first.fold] && (strong || after)) ||
			(!common && after)
	default: // one capitalised word plus initials
		ok = fn || strong || proper == caps
	}
	if !ok {
		return
	}
	s.add(Name, first.start, last.end, 0.6)
	s.nameEnd = last.end
}

func (s *scanner) lowerName(tok nameTok) {
	if !s.context(tok.start, tok.start, 16, 0, cueLowerName) {
		return
	}
	// Any given name, or any word that is not common English right after "my name is".
	if !firstNames[tok.fold] && (isEnglish(tok.fold) || !s.endsWith(tok.start, cueMyNameIs)) {
		return
	}
	t := s.text
	end := tok.end
	// Up to two more lower-case words (middle initial, surname).
	for k := 0; k < 2 && end+1 < len(t) && t[end] == ' '; k++ {
		e, _, low := readWord(t, end+1)
		if e == end+1 || !low || notNames[s.fold(t[end+1:e])] || textnorm.IsStop(s.fold(t[end+1:e])) {
			break
		}
		end = e
	}
	s.add(Name, tok.start, end, 0.5)
	s.nameEnd = end
}

func isAllUpper(w string) bool {
	letters := 0
	for _, r := range w {
		if unicode.IsLetter(r) {
			letters++
			if !unicode.IsUpper(r) {
				return false
			}
		}
	}
	return letters > 1
}

// endsWith reports whether the text just before i (ignoring spaces) ends with one of the
// cues, ASCII case-insensitively.
func (s *scanner) endsWith(i int, list words) bool {
	var buf [32]byte
	lo := max(0, i-len(buf))
	n := copy(buf[:], s.text[lo:i])
	lowerASCII(buf[:n])
	b := buf[:n]
	for _, w := range list {
		// The cue must start at a word boundary ("problems. " does not end with "ms. ").
		if bytes.HasSuffix(b, w) && (len(b) == len(w) || !isAlpha(w[0]) || !isAlpha(b[len(b)-len(w)-1])) {
			return true
		}
		// Cues are written with one trailing space; tolerate a line break instead.
		if len(w) > 0 && w[len(w)-1] == ' ' && len(b) > 0 && b[len(b)-1] == '\n' && bytes.HasSuffix(b[:len(b)-1], w[:len(w)-1]) {
			return true
		}
	}
	return false
}

// lineLabel reports a speaker label: a word alone at the start of a line followed by ':'.
func (s *scanner) lineLabel(tok nameTok) bool {
	t := s.text
	return tok.end < len(t) && t[tok.end] == ':' && (tok.start == 0 || t[tok.start-1] == '\n')
}

// camel reports an upper-case letter after the first that does not follow Mc, Mac, O' or
// a hyphen ("MyClass", "iPhone" are identifiers, "McDonald", "Jean-Luc" are names).
func camel(w string) bool {
	prev := rune(0)
	for k, r := range w {
		if k > 0 && unicode.IsUpper(r) && prev != '-' && prev != '\'' && prev != '’' &&
			!strings.HasPrefix(w, "Mc") && !strings.HasPrefix(w, "Mac") {
			return true
		}
		prev = r
	}
	return false
}

// nameList recognises enumerations of given or family names: "Hleb, Sheila, Donna and
// Shane", "Abramovich and Wilson". At least half of the items (and one for a pair) must be
// in the name gazetteers and the rest must not be common words; a list followed by a
// singular verb ("Lopez, Santos and Coleman is a design agency") names a firm.
func (s *scanner) nameList(first nameTok) bool {
	t := s.text
	type item struct{ start, end int }
	var items [12]item
	n, hits := 0, 0
	j := first.start
	sawAnd := false
	for n < len(items) {
		e, up, low := readWord(t, j)
		if e == j || (!up && !low) {
			break
		}
		f := s.fold(t[j:e])
		if notNames[f] || particles[f] || places[f] {
			break
		}
		gaz := firstNames[f] || surnames[f]
		if !gaz && (isEnglish(f) || (!up && !s.lowerText())) {
			break
		}
		if up != (first.kind == 'C') {
			break // items share their case
		}
		if gaz {
			hits++
		}
		items[n] = item{j, e}
		n++
		// Separator: ", ", ", and ", " and ".
		k := e
		switch {
		case strings.HasPrefix(t[k:], ", and "):
			k += len(", and ")
			sawAnd = true
		case strings.HasPrefix(t[k:], ", "):
			k += 2
		case strings.HasPrefix(t[k:], " and "):
			k += len(" and ")
			sawAnd = true
		default:
			k = -1
		}
		if k < 0 || sawAnd && k != e+len(" and ") && k != e+len(", and ") {
			if k < 0 {
				break
			}
		}
		if sawAnd && (strings.HasPrefix(t[e:], " and ") || strings.HasPrefix(t[e:], ", and ")) {
			// the item after "and" is the last one
			e2, up2, low2 := readWord(t, k)
			if e2 == k || (up2 != (first.kind == 'C')) || (!up2 && !low2) {
				break
			}
			f2 := s.fold(t[k:e2])
			gaz2 := firstNames[f2] || surnames[f2]
			if notNames[f2] || places[f2] || (!gaz2 && isEnglish(f2)) {
				break
			}
			if gaz2 {
				hits++
			}
			items[n] = item{k, e2}
			n++
			break
		}
		j = k
	}
	if n < 2 || !sawAnd || hits == 0 || (n >= 3 && hits*2 < n) {
		return false
	}
	last := items[n-1].end
	// Firms: "X, Y and Z" of family names only, "The X, Y and Z Orchestra", "from X, Y and Z",
	// or a singular verb after the list.
	given := false
	for _, it := range items[:n] {
		given = given || firstNames[s.fold(t[it.start:it.end])]
	}
	firm := (n >= 3 && !given) ||
		s.context(last, last, 0, 5, cueSingularVerb) || s.endsWith(first.start, cueFirmBefore) ||
		(last+1 < len(t) && t[last] == ' ' && isUpper(t[last+1]))
	if firm {
		s.nameEnd = last // its items are not people either
		return true
	}
	for _, it := range items[:n] {
		s.add(Name, it.start, it.end, 0.55)
	}
	s.nameEnd = last
	return true
}
