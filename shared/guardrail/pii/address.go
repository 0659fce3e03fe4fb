package pii

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	// streetSuffixes follow the street name ("Crown St", "Archwood Avenue").
	streetSuffixes = wordSet(`street st road rd avenue ave av boulevard blvd lane ln drive dr court ct place pl way
	square sq terrace ter crescent cres close parkway pkwy highway hwy loop row walk alley circle cir trail trl
	path pike plaza point pt ridge run view vista heights hts hill gardens gdns grove mews park parade wharf
	quay green flat flats estate station crossing bypass expressway freeway junction landing meadow meadows
	mill mills port ports ramp ranch rapids rest shoal shore springs spur stream summit track trafficway
	tunnel turnpike union valley village ville well wells creek forks fork greens club lodge isle mall hills
	cliffs cliff dale glen harbor haven hollow inlet island key knoll lake lakes manor mission motorway neck
	oval overpass pass passage pine pines plains prairie radial shoals shores skyway spring squares trace
	underpass viaduct villages bluff bluffs bottom branch bridge brook brooks burg camp canyon cape causeway
	center centre corner corners course courts cove coves curve dam divide extension extensions falls ferry
	field fields ford forest forge fort freeway garden gateway glens harbors ln lights loaf locks mount mountain
	orchard pkwy plain port ports rue str ut utca sokak cad caddesi`)
	// streetPrefixes precede the street name ("Via Roma 131", "Rue de Tanger", "ul. Narewska 94").
	streetPrefixes = wordSet(`via viale vicolo corso largo piazza piazzetta strada contrada rue avenue boulevard
	chemin allee impasse quai place rua avenida avda travessa praca calle carrer paseo camino plaza ronda
	ul ulica aleja al os straat laan plein weg strasse gasse platz ut utca utja korut ter sor
	odos leoforos plateia c/ r`)
	// streetEndings end one-word street names in many languages ("Koskikatu", "Nybyvägen").
	streetEndings = []string{"katu", "tie", "kuja", "polku", "vagen", "gatan", "gata", "gade", "vej", "veien", "vegen",
		"gasse", "strasse", "weg", "allee", "laan", "straat", "plein", "braut", "stigur", "gata", "utca", "utja",
		"ulica", "cesta", "ceste", "street", "road", "avenue", "platz", "ring", "damm", "markt", "stieg", "graben",
		"vagur", "teig", "bakke", "dalen", "torget", "torv", "straede", "stræde", "vägen", "väg", "gränd"}
	poBoxHeads = wordSet(`po p.o. psc unit box apo fpo dpo cmr`)
	unitWords  = wordSet(`apt apartment suite ste unit floor fl room rm bldg building flat box`)
)

func hasStreetEnding(fold string) bool {
	if len(fold) < 6 {
		return false
	}
	for _, e := range streetEndings {
		if strings.HasSuffix(fold, e) && len(fold) > len(e)+2 {
			return true
		}
	}
	return false
}

// maxAddrWord bounds how far addrWord reads: no word of an address is longer, and an
// unbounded read from every word start of "a.a.a.…" would make the scan quadratic.
const maxAddrWord = 48

// addrWord reads a word (letters, digits, '.', '/', apostrophe, '-') at i, at most
// maxAddrWord bytes.
func addrWord(t string, i int) int {
	j := i
	for j < len(t) && j-i < maxAddrWord {
		r, sz := utf8.DecodeRuneInString(t[j:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '\'' || r == '-' || r == '/' {
			j += sz
			continue
		}
		break
	}
	return j
}

func isNumberWord(w string) bool {
	if w == "" || !isDigit(w[0]) {
		return false
	}
	digits := 0
	for k := 0; k < len(w); k++ {
		if isDigit(w[k]) {
			digits++
		} else if !isAlpha(w[k]) && w[k] != '-' && w[k] != '/' && w[k] != '.' {
			return false
		}
	}
	return digits <= 6 && len(w)-digits <= 2
}

func startsUpper(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsUpper(r)
}

// address handles a digit at a word start: a house number followed by a street.
func (s *scanner) address(i int) {
	if i < s.addrEnd {
		return
	}
	t := s.text
	e := addrWord(t, i)
	if !isNumberWord(t[i:e]) {
		return
	}
	j := e
	// Optional second number ("9931 14 Iliou Street").
	if j+1 < len(t) && t[j] == ' ' && isDigit(t[j+1]) {
		e2 := addrWord(t, j+1)
		if isNumberWord(t[j+1 : e2]) {
			j = e2
		}
	}
	if end, ok := s.street(j, true); ok {
		s.addAddress(i, s.extendAddress(end))
	}
}

// addressWord handles a letter at a word start: a street prefix, a one-word street with a
// street ending and a number, or a post-office box.
func (s *scanner) addressWord(i int) {
	if i < s.addrEnd {
		return
	}
	t := s.text
	e := addrWord(t, i)
	w := strings.TrimRight(s.fold(t[i:e]), ".")
	if isLower(t[i]) && !streetPrefixes[w] && !s.lowerText() &&
		!strings.HasPrefix(t[i:], "the corner of ") && !strings.HasPrefix(t[i:], "p.o") && !strings.HasPrefix(t[i:], "po box") {
		return // lower-case words start an address only as a street prefix ("ul.") or these
	}
	if w == "the" && strings.HasPrefix(t[i:], "the corner of ") || strings.HasPrefix(t[i:], "The corner of ") {
		if end, ok := s.corner(i); ok {
			s.addAddress(i, end)
		}
		return
	}
	if poBoxHeads[w] || w == "p.o" {
		if end, ok := s.poBox(i); ok {
			s.addAddress(i, s.extendAddress(end))
		}
		return
	}
	if (startsUpper(t[i:e]) || streetPrefixes[w]) && (streetPrefixes[w] || hasStreetEnding(w)) {
		// Needs a house number within the next few words.
		j := i
		for k := 0; k < 5 && j < len(t); k++ {
			we := addrWord(t, j)
			if we == j {
				break
			}
			if k > 0 && isNumberWord(t[j:we]) {
				if s.context(i, i, 3, 0, cueTheOfOn) && k < 1 {
					break
				}
				s.addAddress(i, s.extendAddress(we))
				return
			}
			if we >= len(t) || t[we] != ' ' {
				break
			}
			j = we + 1
		}
	}
}

// street reads " <name words> <suffix> [number]" from j (after a house number).
func (s *scanner) street(j int, afterNumber bool) (int, bool) {
	t := s.text
	if j >= len(t) || t[j] != ' ' {
		return 0, false
	}
	k := j + 1
	words := 0
	prefixed := false
	for words < 6 && k < len(t) {
		we := addrWord(t, k)
		if we == k {
			break
		}
		w := t[k:we]
		f := strings.TrimRight(s.fold(w), ".")
		if words == 0 && streetPrefixes[f] {
			prefixed = true
		}
		if words == 0 && !startsUpper(w) && !prefixed && !isLower(w[0]) {
			return 0, false
		}
		if isNumberWord(w) && words > 0 && len(strings.TrimRight(w, ".")) <= 5 &&
			(prefixed || hasStreetEnding(strings.TrimRight(s.fold(t[j+1:k]), " ")) || s.properRun(t[j+1:k])) {
			return we, true
		}
		if words > 0 && streetSuffixes[f] && !prefixed && startsUpper(w) {
			end := we
			// Optional house number after (European order) or "St." period.
			if end+1 < len(t) && t[end] == ' ' && isDigit(t[end+1]) {
				e2 := addrWord(t, end+1)
				if isNumberWord(t[end+1:e2]) && !looksLikeZip(t[end+1:e2]) {
					end = e2
				}
			}
			return end, true
		}
		if hasStreetEnding(f) && startsUpper(w) {
			end := we
			if end+1 < len(t) && t[end] == ' ' && isDigit(t[end+1]) {
				e2 := addrWord(t, end+1)
				if isNumberWord(t[end+1 : e2]) {
					end = e2
				}
			}
			return end, true
		}
		abbrev := len(w) >= 2 && len(w) <= 5 && w[len(w)-1] == '.' && isLower(w[0]) // "u.", "rkp."
		if !startsUpper(w) && !prefixed && !particles[f] && !abbrev {
			// Lower-case words end the street name unless the whole text is lower-case.
			if !s.lowerText() {
				return 0, false
			}
		}
		words++
		if we >= len(t) || t[we] != ' ' {
			if prefixed && words >= 2 {
				return we, true
			}
			return 0, false
		}
		k = we + 1
	}
	if prefixed && words >= 2 {
		return k - 1, true
	}
	return 0, false
}

func looksLikeZip(w string) bool { return len(w) == 5 && isDigit(w[0]) && isDigit(w[4]) }

// lowerText reports whether the text has no upper-case ASCII letters (lower-cased input).
func (s *scanner) lowerText() bool {
	if s.lower == 0 {
		s.lower = 1
		for k := 0; k < len(s.text); k++ {
			if isUpper(s.text[k]) {
				s.lower = 2
				break
			}
		}
	}
	return s.lower == 1
}

// poBox reads "P.O. Box 123", "PO Box 123", "PSC 1234, Box 5678", "Unit 1234 Box 5678",
// "APO AA 12345".
func (s *scanner) poBox(i int) (int, bool) {
	t := s.text
	j := i
	sawNumber := false
	for k := 0; k < 6 && j < len(t); k++ {
		we := addrWord(t, j)
		if we == j {
			break
		}
		w := strings.TrimRight(s.fold(t[j:we]), ".,")
		switch {
		case isNumberWord(strings.TrimRight(t[j:we], ",")):
			sawNumber = true
			if we >= len(t) || (t[we] != ' ' && t[we] != ',') {
				return we, true
			}
		case poBoxHeads[w] || w == "p.o" || w == "aa" || w == "ae" || w == "ap":
		default:
			if sawNumber {
				return j - 1, true
			}
			return 0, false
		}
		for we < len(t) && (t[we] == ',' || t[we] == ' ') {
			we++
		}
		j = we
	}
	if sawNumber {
		return strings.LastIndexFunc(t[:j], func(r rune) bool { return unicode.IsDigit(r) }) + 1, true
	}
	return 0, false
}

// extendAddress extends a street address over units, city, region, postal code and
// country on the same or the following short lines.
func (s *scanner) extendAddress(end int) int {
	t := s.text
	lines := 0
	for steps := 0; steps < 12 && end < len(t); steps++ {
		k := end
		// Separator.
		nl := 0
		for k < len(t) && (t[k] == ' ' || t[k] == ',' || t[k] == '\n' || t[k] == '>' || t[k] == '\t' || (t[k] == '?' && nl > 0)) {
			if t[k] == '\n' {
				nl++
			}
			k++
		}
		if nl > 1 || k >= len(t) {
			break
		}
		if nl == 1 {
			lines++
			if lines > 4 {
				break
			}
		}
		we := addrWord(t, k)
		if we == k {
			break
		}
		w := t[k:we]
		f := strings.TrimRight(s.fold(w), ".")
		next := func() int {
			// unit designators take their number along
			if unitWords[f] && we+1 < len(t) && t[we] == ' ' {
				e2 := addrWord(t, we+1)
				if e2 > we+1 && (isNumberWord(t[we+1:e2]) || isDigit(t[we+1])) {
					return e2
				}
			}
			return -1
		}
		if e2 := next(); e2 > 0 {
			end = e2
			continue
		}
		switch {
		case isNumberWord(w) || looksLikeZip(w):
			// Postal code (and not the start of a phone number).
			if strings.IndexByte(t[we:min(len(t), we+4)], '-') >= 0 || (we+1 < len(t) && t[we] == ' ' && isDigit(t[we+1]) && nl == 1) {
				return end
			}
			end = we
		case len(w) == 2 && isUpper(w[0]) && isUpper(w[1]):
			end = we // state or region code
		case startsUpper(w) && !notNames[f] || (startsUpper(w) && (f == "united" || f == "new" || f == "north" || f == "south")):
			// City or country: up to four capitalised words.
			e := we
			for c := 0; c < 3 && e+1 < len(t) && t[e] == ' '; c++ {
				e2 := addrWord(t, e+1)
				if e2 == e+1 || !startsUpper(t[e+1:e2]) && !isAllUpperASCII(t[e+1:e2]) && t[e+1] != '(' {
					break
				}
				e = e2
			}
			// A sentence going on ("Tallinn for a trip") stops at the city.
			end = e
			if s.lowerText() {
				return end
			}
		case s.lowerText() && nl == 1:
			end = we
		default:
			return end
		}
	}
	return end
}

func isAllUpperASCII(w string) bool {
	for k := 0; k < len(w); k++ {
		if isLower(w[k]) {
			return false
		}
	}
	return w != ""
}

func (s *scanner) addAddress(start, end int) {
	t := s.text
	for end > start && (t[end-1] == ',' || t[end-1] == ' ' || t[end-1] == '\n') {
		end--
	}
	// A sentence's full stop is not part of the address; an abbreviation's is ("St.", "12.").
	if end > start && t[end-1] == '.' {
		k := end - 1
		for k > start && isAlpha(t[k-1]) {
			k--
		}
		if end-1-k > 3 {
			end--
		}
	}
	s.add(Address, start, end, 0.6)
	s.addrEnd = end
}

// properRun reports whether the words of a street name are capitalised proper words (not
// common English words), so "<number> <Name> <number>" reads as an address.
func (s *scanner) properRun(name string) bool {
	fs := strings.Fields(name)
	if len(fs) == 0 || len(fs) > 4 {
		return false
	}
	proper := 0
	for _, w := range fs {
		f := strings.TrimRight(s.fold(w), ".")
		switch {
		case particles[f] || (len(w) <= 5 && strings.HasSuffix(w, ".") && isLower(w[0])):
		case startsUpper(w) && !notNames[f] && !isEnglish(f) && !strings.ContainsAny(w, "0123456789"):
			proper++
		default:
			return false
		}
	}
	return proper > 0
}

// corner reads "the corner of <street> and <street>".
func (s *scanner) corner(i int) (int, bool) {
	t := s.text
	j := i + len("the corner of ")
	end, and := 0, false
	for k := 0; k < 12 && j < len(t); k++ {
		we := addrWord(t, j)
		if we == j {
			break
		}
		w := t[j:we]
		switch {
		case w == "and" && end > 0:
			and = true
		case startsUpper(w) || isNumberWord(w) || streetPrefixes[strings.TrimRight(s.fold(w), ".")] || s.lowerText():
			end = we
		default:
			k = 12
		}
		if we >= len(t) || t[we] != ' ' {
			break
		}
		j = we + 1
	}
	if !and || end == 0 {
		return 0, false
	}
	for end > i && t[end-1] == '.' {
		end--
	}
	return end, true
}
