package pii

import "strings"

var (
	ageBefore      = ws("turned ", "turn ", "turning ", "aged ", "age of ", "age: ", "age is ", "age ", "he was ", "she was ", "i am ", "i'm ")
	ageAfter       = ws(" years old", " year old", "-year-old", " year-old", " y/o", " yrs old", " yrs", " years of age")
	cvvWords       = ws("cvv", "cvc", "cvv2", "security code", "card verification", "csc")
	expiryWords    = ws("exp", "expiry", "expiration", "expires", "valid thru", "valid through", "good thru")
	pinWords       = ws("pin ", "pin:", "pin is", "pin code", "pin number", "pin-code")
	routingWords   = ws("routing", "aba", "rtn", "transit number")
	sinWords       = ws("sin ", "sin:", "sin#", "social insurance")
	nhsWords       = ws("nhs", "national health")
	utrWords       = ws("utr", "taxpayer reference", "unique taxpayer")
	swiftWords     = ws("swift", "bic", "bank identifier")
	vinWords       = ws("vin", "vehicle identification", "chassis")
	passwordWords  = []string{"password", "passwort", "passwd", "pwd", "passcode", "pass phrase", "passphrase", "mot de passe", "contraseña"}
	usernameWords  = []string{"username", "user name", "user id", "userid", "login", "log-in", "handle", "benutzername", "screen name"}
	credentialSeps = []string{" is: ", " is ", ": ", ":", " = ", "=", " - "}
)

// classifyMore handles the short or context-bound numbers: ages, CVVs, expiry dates, PINs,
// routing numbers, Canadian SINs, NHS numbers and UTRs.
func (s *scanner) classifyMore(gs []group, a int, plus, paren bool) (int, bool) {
	if plus || paren {
		return a, false
	}
	t := s.text
	g := gs[a]
	nd := g.end - g.start
	// AGE: a 1-3 digit number with an age cue.
	if s.set.Has(Age) && nd <= 3 && (a == len(gs)-1 || gs[a+1].sep == ' ') {
		v := atoiStr(t[g.start:g.end])
		if v > 0 && v <= 130 && (s.endsWith(g.start, ageBefore) && !s.context(g.end, g.end, 0, 3, cueNotAge) || s.context(g.end, g.end, 0, 14, ageAfter)) {
			if s.endsWith(g.start, cueWasAge) && !s.context(g.end, g.end, 0, 14, ageAfter) {
				// "he was 78." counts only at the end of a clause.
				if g.end < len(t) && t[g.end] != '.' && t[g.end] != ',' {
					goto notAge
				}
			}
			s.add(Age, g.start, g.end, 0.6)
			return a, true
		}
	}
notAge:
	// CVV: 3-4 digits right after a card-security word.
	if s.set.Has(CardCVV) && (nd == 3 || nd == 4) && a == len(gs)-1 && s.context(g.start, g.end, 20, 0, cvvWords) {
		s.add(CardCVV, g.start, g.end, 0.7)
		return a, true
	}
	// Expiry: MM/YY or MM/YYYY with an expiry word.
	if s.set.Has(CardExpiry) && a+1 < len(gs) && (gs[a+1].sep == '/' || gs[a+1].sep == '-') && nd <= 2 {
		g2 := gs[a+1]
		n2 := g2.end - g2.start
		m := atoiStr(t[g.start:g.end])
		if m >= 1 && m <= 12 && (n2 == 2 || n2 == 4) && (a+2 >= len(gs) || gs[a+2].sep == ' ') && s.context(g.start, g2.end, 24, 0, expiryWords) {
			s.add(CardExpiry, g.start, g2.end, 0.7)
			return a + 1, true
		}
	}
	// PIN: 4-6 digits right after "PIN".
	if s.set.Has(PIN) && nd >= 4 && nd <= 6 && a == len(gs)-1 && s.context(g.start, g.end, 14, 0, pinWords) {
		s.add(PIN, g.start, g.end, 0.7)
		return a, true
	}
	// Routing number: 9 digits with the ABA checksum and a routing word.
	if s.set.Has(RoutingNumber) && nd == 9 && s.context(g.start, g.end, 40, 0, routingWords) && abaValid(t[g.start:g.end]) {
		s.add(RoutingNumber, g.start, g.end, 0.85)
		return a, true
	}
	// Canadian SIN: 9 digits (3-3-3), Luhn-valid, with a SIN word.
	if s.set.Has(CASIN) {
		for _, b := range []int{a + 2, a} {
			if b >= len(gs) || countDigits(gs, a, b) != 9 {
				continue
			}
			if sep, ok := sameSep(gs, a, b); !ok || (sep != 0 && sep != ' ' && sep != '-') {
				continue
			}
			var dbuf [24]byte
			d := s.appendDigits(dbuf[:0], gs, a, b)
			st, en := gs[a].start, gs[b].end
			if d[0] != '8' && luhn(d) && s.context(st, en, 40, 0, sinWords) {
				s.add(CASIN, st, en, 0.8)
				return b, true
			}
		}
	}
	// NHS number: 10 digits (3-3-4), mod-11 check, with an NHS word.
	if s.set.Has(UKNHS) {
		for _, b := range []int{a + 2, a} {
			if b >= len(gs) || countDigits(gs, a, b) != 10 {
				continue
			}
			if sep, ok := sameSep(gs, a, b); !ok || (sep != 0 && sep != ' ' && sep != '-') {
				continue
			}
			var dbuf [24]byte
			d := s.appendDigits(dbuf[:0], gs, a, b)
			st, en := gs[a].start, gs[b].end
			if nhsValid(d) && s.context(st, en, 40, 0, nhsWords) {
				s.add(UKNHS, st, en, 0.85)
				return b, true
			}
		}
	}
	// UTR: 10 digits (or 5 5) with a UTR word.
	if s.set.Has(UKUTR) {
		b := -1
		if nd == 10 {
			b = a
		} else if nd == 5 && a+1 < len(gs) && gs[a+1].end-gs[a+1].start == 5 && gs[a+1].sep == ' ' {
			b = a + 1
		}
		if b >= 0 && s.context(gs[a].start, gs[b].end, 40, 0, utrWords) {
			s.add(UKUTR, gs[a].start, gs[b].end, 0.75)
			return b, true
		}
	}
	return a, false
}

// abaValid applies the ABA routing checksum 3-7-1.
func abaValid(d string) bool {
	if len(d) != 9 {
		return false
	}
	w := [3]int{3, 7, 1}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(d[i]-'0') * w[i%3]
	}
	return sum%10 == 0 && d != "000000000"
}

// nhsValid applies the NHS number's modulus-11 check digit.
func nhsValid(d []byte) bool {
	if len(d) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(d[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(d[9]-'0')
}

// upperCode handles an upper-case word start: SWIFT/BIC codes (with a context word), VINs
// (17 characters, check digit or context) and UK National Insurance numbers.
func (s *scanner) upperCode(i int) {
	t := s.text
	j := i
	for j < len(t) && (isUpper(t[j]) || isDigit(t[j])) {
		j++
	}
	if j < len(t) && (isLower(t[j]) || t[j] == '_' || t[j] >= 0x80) {
		return
	}
	w := t[i:j]
	switch {
	case s.set.Has(SwiftCode) && (len(w) == 8 || len(w) == 11) && swiftShape(w) && s.context(i, j, 40, 0, swiftWords):
		s.add(SwiftCode, i, j, 0.8)
	case s.set.Has(VIN) && len(w) == 17 && vinShape(w) && (vinCheck(w) || s.context(i, j, 40, 0, vinWords)):
		s.add(VIN, i, j, 0.8)
	case s.set.Has(UKNINO):
		if end, ok := ninoAt(t, i); ok {
			s.add(UKNINO, i, end, 0.8)
		}
	}
}

func swiftShape(w string) bool {
	for k := 0; k < 6; k++ {
		if !isUpper(w[k]) {
			return false
		}
	}
	_, known := ibanLengths[w[4:6]]
	return known || strings.Contains(" US CA AU CN JP IN SG HK ZA MX AR NZ KR ", " "+w[4:6]+" ")
}

func vinShape(w string) bool {
	letters, digits := 0, 0
	for k := 0; k < len(w); k++ {
		c := w[k]
		if c == 'I' || c == 'O' || c == 'Q' {
			return false
		}
		if isDigit(c) {
			digits++
		} else {
			letters++
		}
	}
	return letters >= 2 && digits >= 4
}

// vinCheck validates the North American check digit (position 9).
func vinCheck(w string) bool {
	const letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
	const values = "12345678123457923456789"
	weights := [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}
	sum := 0
	for k := 0; k < 17; k++ {
		c := w[k]
		v := 0
		if isDigit(c) {
			v = int(c - '0')
		} else {
			idx := strings.IndexByte(letters, c)
			if idx < 0 {
				return false
			}
			v = int(values[idx] - '0')
		}
		sum += v * weights[k]
	}
	r := sum % 11
	want := byte('0' + r)
	if r == 10 {
		want = 'X'
	}
	return w[8] == want
}

// ninoAt reads a UK National Insurance number "AB123456C" or "AB 12 34 56 C".
func ninoAt(t string, i int) (int, bool) {
	var b [9]byte
	n := 0
	j := i
	for j < len(t) && n < 9 {
		c := t[j]
		switch {
		case isUpper(c) || isDigit(c):
			b[n] = c
			n++
			j++
		case c == ' ' && n > 0 && n%2 == 0 && n <= 8 && j+1 < len(t) && isAlnum(t[j+1]):
			j++
		default:
			goto done
		}
	}
done:
	if n != 9 || (j < len(t) && isAlnum(t[j])) {
		return 0, false
	}
	p0, p1 := b[0], b[1]
	if !isUpper(p0) || !isUpper(p1) || strings.IndexByte("DFIQUV", p0) >= 0 || strings.IndexByte("DFIOQUV", p1) >= 0 {
		return 0, false
	}
	switch string(b[:2]) {
	case "BG", "GB", "NK", "KN", "TN", "NT", "ZZ":
		return 0, false
	}
	for k := 2; k < 8; k++ {
		if !isDigit(b[k]) {
			return 0, false
		}
	}
	if b[8] < 'A' || b[8] > 'D' {
		return 0, false
	}
	return j, true
}

// credential handles a word start that may be a password or username label, and marks the
// value that follows it ("password: hunter2", "username is jdoe").
func (s *scanner) credential(i int) {
	t := s.text
	low := func(k int) byte {
		c := t[k]
		if isUpper(c) {
			return c + 32
		}
		return c
	}
	if i+2 > len(t) {
		return
	}
	switch string([]byte{low(i), low(i + 1)}) {
	case "pa", "pw", "us", "lo", "ha", "be", "sc", "mo", "co":
	default:
		return
	}
	var typ Type
	var label int
	for _, set := range [2]struct {
		t Type
		w []string
	}{{Password, passwordWords}, {Username, usernameWords}} {
		if !s.set.Has(set.t) {
			continue
		}
		for _, w := range set.w {
			if i+len(w) <= len(t) && strings.EqualFold(t[i:i+len(w)], w) {
				typ, label = set.t, len(w)
				break
			}
		}
		if label > 0 {
			break
		}
	}
	if label == 0 {
		return
	}
	j := i + label
	// Allow "password for x is", trailing "s"/"word" etc. only via the separators below.
	for _, sep := range credentialSeps {
		if strings.HasPrefix(t[j:], sep) {
			j += len(sep)
			goto value
		}
	}
	return
value:
	for j < len(t) && (t[j] == '"' || t[j] == '\'' || t[j] == '`') {
		j++
	}
	st := j
	for j < len(t) && t[j] > ' ' && t[j] != '"' && t[j] != '\'' && t[j] != '`' && j-st < 64 {
		j++
	}
	for j > st && (t[j-1] == '.' || t[j-1] == ',' || t[j-1] == ';' || t[j-1] == ')') {
		j--
	}
	if j-st < 3 {
		return
	}
	// Common words are not credentials ("password is required").
	if v := s.fold(t[st:j]); isEnglish(v) && typ == Password || v == "required" || v == "incorrect" || v == "wrong" || v == "invalid" {
		return
	}
	s.add(typ, st, j, 0.8)
}

func atoiStr(d string) int {
	v := 0
	for k := 0; k < len(d); k++ {
		v = v*10 + int(d[k]-'0')
	}
	return v
}
