package pii

// group is one run of digits inside a numeric candidate.
type group struct {
	start, end int  // byte offsets of the digits
	sep        byte // separator before this group (0 for the first): ' ', '-', '.', '/', '(' or ')'
	paren      bool // the separator involved a parenthesis
}

const maxGroups = 16

// digits parses a run of digit groups starting at i (optionally '+' or '(' first) and
// classifies sub-runs as cards, SSNs, ITINs, bank accounts, passports or phones. It
// returns the end of the run so the caller does not re-scan it.
func (s *scanner) digits(i int) int {
	t := s.text
	n := len(t)
	var gs [maxGroups]group
	ng := 0
	j := i
	plus := false
	openParen := false
	if t[j] == '+' {
		if j+1 >= n || !isDigit(t[j+1]) {
			return i
		}
		plus = true
		j++
	} else if t[j] == '(' {
		if j+1 >= n || !isDigit(t[j+1]) {
			return i
		}
		openParen = true
		j++
	}
	var sep byte
	paren := openParen
	for ng < maxGroups {
		st := j
		for j < n && isDigit(t[j]) {
			j++
		}
		if j == st {
			break
		}
		gs[ng] = group{start: st, end: j, sep: sep, paren: paren}
		ng++
		// Separator: up to two of " -./()" (not newlines), then a digit.
		k := j
		sep, paren = 0, false
		for k < n && k-j < 3 {
			c := t[k]
			if c == ' ' || c == '-' || c == '.' || c == '/' {
				if sep == 0 || sep == '(' || sep == ')' {
					sep = c
				} else if c != ' ' {
					sep = c
				}
			} else if c == '(' || c == ')' {
				paren = true
				if sep == 0 {
					sep = c
				}
			} else {
				break
			}
			k++
		}
		if k == j || k >= n || !isDigit(t[k]) {
			break
		}
		j = k
	}
	if ng == 0 {
		return i
	}
	// Extension ("x123", "ext. 123") is only meaningful for phones.
	extEnd := gs[ng-1].end
	if e := extensionEnd(t, extEnd); e > extEnd {
		extEnd = e
	}
	last := gs[ng-1].end
	if last < n && (isAlpha(t[last]) && extEnd == last || t[last] == '_' || t[last] >= 0x80 && extEnd == last) {
		// Digits glued to letters ("12abc") are identifiers, not numbers.
		return last
	}

	a := 0
	for a < ng {
		if b, ok := s.classify(gs[:ng], a, plus && a == 0, openParen && a == 0, extEnd); ok {
			a = b + 1
			continue
		}
		a++
	}
	if extEnd > last {
		return extEnd
	}
	return last
}

func extensionEnd(t string, i int) int {
	j := i
	if j < len(t) && t[j] == ' ' {
		j++
	}
	switch {
	case j < len(t) && (t[j] == 'x' || t[j] == 'X'):
		j++
	case j+3 <= len(t) && (t[j:j+3] == "ext" || t[j:j+3] == "Ext"):
		j += 3
		if j < len(t) && t[j] == '.' {
			j++
		}
		if j < len(t) && t[j] == ' ' {
			j++
		}
	default:
		return i
	}
	k := j
	for k < len(t) && isDigit(t[k]) {
		k++
	}
	if k == j || k-j > 6 || (k < len(t) && isAlnum(t[k])) {
		return i
	}
	return k
}

// span returns the byte range of groups a..b including a leading '+' or '(' when present.
func spanOf(t string, gs []group, a, b int) (int, int) {
	st := gs[a].start
	if st > 0 && (t[st-1] == '+' || t[st-1] == '(') {
		st--
		if t[st] == '(' && st > 0 && t[st-1] == '+' {
			st--
		}
	}
	return st, gs[b].end
}

func countDigits(gs []group, a, b int) int {
	n := 0
	for k := a; k <= b; k++ {
		n += gs[k].end - gs[k].start
	}
	return n
}

func (s *scanner) appendDigits(buf []byte, gs []group, a, b int) []byte {
	for k := a; k <= b; k++ {
		buf = append(buf, s.text[gs[k].start:gs[k].end]...)
	}
	return buf
}

// sameSep reports whether groups a+1..b share one separator (no parentheses).
func sameSep(gs []group, a, b int) (byte, bool) {
	if a == b {
		return 0, true
	}
	sep := gs[a+1].sep
	for k := a + 1; k <= b; k++ {
		if gs[k].sep != sep || gs[k].paren {
			return 0, false
		}
	}
	return sep, true
}

// classify tries the longest sub-run starting at group a for each type in priority order.
func (s *scanner) classify(gs []group, a int, plus, paren bool, extEnd int) (int, bool) {
	t := s.text
	ng := len(gs)
	var dbuf [40]byte
	if b, ok := s.classifyMore(gs, a, plus, paren); ok {
		return b, true
	}
	// Cards: 12-19 digits, Luhn-valid, one separator style.
	if s.set.Has(CreditCard) && !plus && !paren {
		for b := min(ng-1, a+5); b >= a; b-- {
			nd := countDigits(gs, a, b)
			if nd < 12 || nd > 19 {
				continue
			}
			sep, ok := sameSep(gs, a, b)
			if !ok || (sep != 0 && sep != ' ' && sep != '-') {
				continue
			}
			if !cardShape(gs, a, b) {
				continue
			}
			d := s.appendDigits(dbuf[:0], gs, a, b)
			if d[0] < '1' || d[0] > '6' || !luhn(d) || allSame(d) || (nd == 13 && d[0] == '1') {
				continue
			}
			st, en := spanOf(t, gs, a, b)
			if ibanPrefix(t, st) {
				continue
			}
			if nd == 12 && !s.context(st, en, 48, 0, cardWords) {
				continue
			}
			if s.context(st, en, 40, 0, bankWords) && !s.context(st, en, 40, 0, cardWords) && nd < 15 {
				continue
			}
			s.add(CreditCard, st, en, 0.9)
			return b, true
		}
	}
	// SSN and ITIN: nine digits as 3-2-4, 3-6, 5-4 or unbroken (unbroken needs context).
	if s.set&(1<<SSN|1<<ITIN) != 0 && !plus && !paren {
		for b := min(ng-1, a+2); b >= a; b-- {
			if countDigits(gs, a, b) != 9 {
				continue
			}
			sep, ok := sameSep(gs, a, b)
			if !ok || (sep != 0 && sep != ' ' && sep != '-' && sep != '.') {
				continue
			}
			shape := 0
			switch b - a {
			case 0:
				shape = 1
			case 1:
				l0 := gs[a].end - gs[a].start
				if sep == '-' && (l0 == 3 || l0 == 5) {
					shape = 2
				}
			case 2:
				if gs[a].end-gs[a].start == 3 && gs[a+1].end-gs[a+1].start == 2 {
					shape = 3
				}
			}
			if shape == 0 {
				continue
			}
			d := s.appendDigits(dbuf[:0], gs, a, b)
			st, en := spanOf(t, gs, a, b)
			if d[0] == '9' {
				if s.set.Has(ITIN) && validITIN(d) && (shape != 1 || s.context(st, en, 48, 0, itinWords)) {
					s.add(ITIN, st, en, 0.85)
					return b, true
				}
				continue
			}
			if !s.set.Has(SSN) || !validSSN(d) {
				continue
			}
			if shape == 1 || shape == 2 {
				if !s.context(st, en, 48, 0, ssnWords) {
					continue
				}
			}
			if shape == 3 && sep == ' ' && s.context(st, en, 40, 12, phoneWords) && !s.context(st, en, 48, 0, ssnWords) {
				continue
			}
			s.add(SSN, st, en, 0.85)
			return b, true
		}
	}
	// Single unbroken runs with a context word: passports, bank accounts.
	if !plus && !paren {
		g := gs[a]
		nd := g.end - g.start
		if s.set.Has(USPassport) && nd == 9 && s.context(g.start, g.end, 48, 0, passportWords) {
			s.add(USPassport, g.start, g.end, 0.7)
			return a, true
		}
		if s.set.Has(DriverID) && nd >= 6 && nd <= 15 && s.context(g.start, g.end, 48, 0, driverWords) {
			s.add(DriverID, g.start, g.end, 0.6)
			return a, true
		}
		if s.set.Has(USBankAccount) && nd >= 8 && nd <= 17 && s.context(g.start, g.end, 48, 0, bankWords) &&
			!s.context(g.start, g.end, 48, 0, phoneOnlyWords) {
			s.add(USBankAccount, g.start, g.end, 0.7)
			return a, true
		}
	}
	// Phones.
	if s.set.Has(Phone) {
		for b := min(ng-1, a+7); b >= a; b-- {
			nd := countDigits(gs, a, b)
			if nd < 7 || nd > 15 {
				continue
			}
			if gs[a].paren && a > 0 && !paren {
				continue
			}
			end := gs[b].end
			if b == ng-1 && extEnd > end {
				end = extEnd
			}
			st, _ := spanOf(t, gs, a, b)
			if paren || plus {
				st = gs[a].start - 1
				if plus && t[st] != '+' {
					st = gs[a].start
				}
			}
			if !s.phoneShape(gs, a, b, plus, paren, nd, st, end, end != gs[b].end) {
				continue
			}
			s.add(Phone, st, end, 0.75)
			return b, true
		}
	}
	return a, false
}

// cardShape accepts one unbroken run, groups of four (the last may be shorter), or the
// 4-6-4 / 4-6-5 layouts of Diners and American Express.
func cardShape(gs []group, a, b int) bool {
	if a == b {
		return true
	}
	l := func(k int) int { return gs[k].end - gs[k].start }
	if b-a == 2 && l(a) == 4 && l(a+1) == 6 && (l(b) == 4 || l(b) == 5) {
		return true
	}
	for k := a; k < b; k++ {
		if l(k) != 4 {
			return false
		}
	}
	return l(b) >= 1 && l(b) <= 4
}

// ibanPrefix reports whether the digits at st continue a sequence of four-character groups
// holding letters (such as an IBAN's "GB82 WEST " head), so they are not a card.
func ibanPrefix(t string, st int) bool {
	if st < 5 || (t[st-1] != ' ' && t[st-1] != '-') {
		return false
	}
	h := t[st-5 : st-1]
	letter := false
	for k := 0; k < 4; k++ {
		if !isAlnum(h[k]) {
			return false
		}
		letter = letter || isUpper(h[k])
	}
	return letter && (st < 6 || !isAlnum(t[st-6]))
}

func (s *scanner) phoneShape(gs []group, a, b int, plus, paren bool, nd, st, end int, ext bool) bool {
	if nd >= 12 && s.context(st, end, 40, 0, cardWords) {
		return false
	}
	if b-a == 3 && nd == 16 && cardShape(gs, a, b) {
		return false
	}
	if (b < len(gs)-1 && gs[b+1].sep != ' ') || (a > 0 && gs[a].sep != ' ') {
		return false // a phone does not start or end inside a longer hyphenated or dotted number
	}
	for k := a + 1; k <= b; k++ {
		if gs[k].sep == '/' {
			return false
		}
	}
	if looksLikeDate(s.text, gs, a, b) {
		return false
	}
	strong := plus || paren || ext
	if !strong {
		for k := a + 1; k <= b; k++ {
			if gs[k].paren {
				strong = true
			}
		}
	}
	if !strong && b-a == 2 {
		l0, l1, l2 := gs[a].end-gs[a].start, gs[a+1].end-gs[a+1].start, gs[a+2].end-gs[a+2].start
		if sep, ok := sameSep(gs, a, b); ok && sep != ' ' && l0 == 3 && l1 == 3 && l2 == 4 {
			strong = true // North American 415-555-0132 / 415.555.0132
		}
	}
	if strong {
		return nd >= 7
	}
	if nd > 13 {
		return false
	}
	// "9543 1819 St. John Street": a house number followed by a capitalised word.
	if end+1 < len(s.text) && s.text[end] == ' ' && isUpper(s.text[end+1]) {
		return false
	}
	return s.context(st, end, 40, 14, phoneWords)
}

func looksLikeDate(t string, gs []group, a, b int) bool {
	if b-a != 2 {
		return false
	}
	l := [3]int{gs[a].end - gs[a].start, gs[a+1].end - gs[a+1].start, gs[a+2].end - gs[a+2].start}
	sep, ok := sameSep(gs, a, b)
	if !ok || sep == ' ' {
		return false
	}
	num := func(g group) int {
		v := 0
		for k := g.start; k < g.end; k++ {
			v = v*10 + int(t[k]-'0')
		}
		return v
	}
	switch {
	case l[0] == 4 && l[1] <= 2 && l[2] <= 2:
		return num(gs[a+1]) <= 12 && num(gs[a+2]) <= 31
	case l[0] <= 2 && l[1] <= 2 && (l[2] == 4 || l[2] == 2):
		return num(gs[a]) <= 31 && num(gs[a+1]) <= 31
	}
	return false
}

func luhn(d []byte) bool {
	sum := 0
	dbl := false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if dbl {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		dbl = !dbl
	}
	return sum%10 == 0
}

func allSame(d []byte) bool {
	for _, c := range d {
		if c != d[0] {
			return false
		}
	}
	return true
}

func atoi(d []byte) int {
	v := 0
	for _, c := range d {
		v = v*10 + int(c-'0')
	}
	return v
}

// validSSN applies the SSA's rules: area not 000, 666 or 900-999; group not 00; serial
// not 0000; and not one of the numbers published in advertising and examples.
func validSSN(d []byte) bool {
	if len(d) != 9 || allSame(d) {
		return false
	}
	area, grp, serial := atoi(d[:3]), atoi(d[3:5]), atoi(d[5:])
	if area == 0 || area == 666 || area >= 900 || grp == 0 || serial == 0 {
		return false
	}
	switch string(d) {
	case "078051120", "219099999", "457555462":
		return false
	}
	return true
}

// validITIN checks the IRS ranges: 9xx, group 50-65, 70-88, 90-92 or 94-99.
func validITIN(d []byte) bool {
	if len(d) != 9 || d[0] != '9' {
		return false
	}
	g := atoi(d[3:5])
	return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || (g >= 94 && g <= 99)
}
