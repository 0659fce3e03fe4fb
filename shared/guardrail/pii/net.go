package pii

import (
	"net/netip"
	"strings"
)

func emailLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\''
}

func hostByte(c byte) bool { return isAlnum(c) || c == '-' || c == '.' }

// email handles an '@' at i.
func (s *scanner) email(at int) {
	t := s.text
	st := at
	for st > 0 && emailLocal(t[st-1]) {
		st--
	}
	for st < at && (t[st] == '.' || t[st] == '\'') {
		st++
	}
	if st == at || (st > 0 && t[st-1] >= 0x80) {
		return
	}
	end, ok := hostEnd(t, at+1)
	if !ok {
		return
	}
	s.add(Email, st, end, 0.95)
}

// hostEnd returns the end of a DNS name starting at i that has at least two labels and an
// alphabetic (or punycode) top-level label of two or more characters.
func hostEnd(t string, i int) (int, bool) {
	e := i
	for e < len(t) && hostByte(t[e]) {
		e++
	}
	for e > i && (t[e-1] == '.' || t[e-1] == '-') {
		e--
	}
	host := t[i:e]
	dot := strings.LastIndexByte(host, '.')
	if dot <= 0 || strings.Contains(host, "..") {
		return 0, false
	}
	tld := host[dot+1:]
	if len(tld) < 2 {
		return 0, false
	}
	if !strings.HasPrefix(tld, "xn--") {
		for k := 0; k < len(tld); k++ {
			if !isAlpha(tld[k]) {
				return 0, false
			}
		}
	}
	if e < len(t) && t[e] >= 0x80 {
		return 0, false
	}
	return e, true
}

func urlByte(c byte) bool {
	return c > ' ' && c < 0x7f && c != '"' && c != '<' && c != '>' && c != '`' && c != '\\' && c != '|' && c != '^' && c != '{' && c != '}'
}

// urlEnd extends a URL from its host at i through an optional port, path, query and
// fragment, trimming trailing punctuation.
func urlEnd(t string, hostStop int) int {
	e := hostStop
	if e < len(t) && (t[e] == '/' || t[e] == ':' || t[e] == '?' || t[e] == '#') {
		for e < len(t) && urlByte(t[e]) {
			e++
		}
	}
	// Unbalanced closing parentheses are trimmed; the balance is counted once.
	open, closed := strings.Count(t[hostStop:e], "("), strings.Count(t[hostStop:e], ")")
	for e > hostStop {
		c := t[e-1]
		if c == '.' || c == ',' || c == ';' || c == '!' || c == '?' || c == '\'' || c == ':' {
			e--
			continue
		}
		if c == ')' && open < closed {
			e--
			closed--
			continue
		}
		break
	}
	return e
}

// urlScheme handles "://" at i.
func (s *scanner) urlScheme(colon int) {
	t := s.text
	st := colon
	for st > 0 && isAlpha(t[st-1]) {
		st--
	}
	scheme := strings.ToLower(t[st:colon])
	if scheme != "http" && scheme != "https" && scheme != "ftp" && scheme != "sftp" && scheme != "ws" && scheme != "wss" {
		return
	}
	if colon < s.urlEnd {
		return // inside a URL already found: "http://a/?next=http://b" is one URL
	}
	h := colon + 3
	// userinfo
	if at := strings.IndexByte(t[h:min(len(t), h+64)], '@'); at > 0 && !strings.ContainsAny(t[h:h+at], " /") {
		h += at + 1
	}
	var he int
	if h < len(t) && t[h] == '[' {
		rb := strings.IndexByte(t[h:], ']')
		if rb < 0 {
			return
		}
		he = h + rb + 1
	} else {
		e, ok := hostEnd(t, h)
		if !ok {
			if ip, ok2 := ipv4At(t, h); ok2 {
				e = ip
			} else {
				return
			}
		}
		he = e
	}
	s.urlEnd = urlEnd(t, he)
	s.steps += s.urlEnd - he
	s.add(URL, st, s.urlEnd, 0.95)
}

var bareTLDs = map[string]bool{
	"com": true, "org": true, "net": true, "edu": true, "gov": true, "io": true, "info": true, "biz": true,
	"co": true, "ai": true, "app": true, "dev": true, "site": true, "online": true, "shop": true, "store": true,
	"tech": true, "cloud": true, "blog": true, "news": true, "uk": true, "de": true, "fr": true, "it": true,
	"es": true, "nl": true, "be": true, "ch": true, "at": true, "se": true, "no": true, "dk": true, "fi": true,
	"ru": true, "cn": true, "jp": true, "br": true, "au": true, "ca": true, "us": true, "eu": true, "in": true,
	"il": true, "ie": true, "nz": true, "za": true, "mx": true, "ar": true, "cz": true, "hu": true, "gr": true,
	"cy": true, "ro": true, "tv": true, "me": true, "ly": true, "to": true, "xyz": true, "top": true, "live": true,
}

// urlWord handles a word start: "www." hosts and bare domains with a well-known TLD.
func (s *scanner) urlWord(i int) {
	t := s.text
	if i > 0 && (t[i-1] == '@' || t[i-1] == '.' || t[i-1] == '/' || t[i-1] == ':' || t[i-1] == '-') {
		return
	}
	e, ok := hostEnd(t, i)
	if !ok {
		return
	}
	if e < len(t) && t[e] == '@' {
		return
	}
	host := strings.ToLower(t[i:e])
	if strings.HasPrefix(host, "www.") {
		if strings.Count(host, ".") < 2 {
			return
		}
		s.add(URL, i, urlEnd(t, e), 0.9)
		return
	}
	tld := host[strings.LastIndexByte(host, '.')+1:]
	if !bareTLDs[tld] {
		return
	}
	// A bare domain needs a first label of two or more letters and mostly lower-case or
	// mixed case (not an abbreviation like "e.g" or "U.S").
	first := host[:strings.IndexByte(host, '.')]
	if len(first) < 2 {
		return
	}
	s.add(URL, i, urlEnd(t, e), 0.6)
}

// ipv4At parses a dotted quad starting at i and returns its end; it requires a boundary
// after (no further digit, letter or ".digit").
func ipv4At(t string, i int) (int, bool) {
	j := i
	for part := 0; part < 4; part++ {
		if j >= len(t) || !isDigit(t[j]) {
			return 0, false
		}
		v, k := 0, 0
		for j < len(t) && isDigit(t[j]) && k < 4 {
			v = v*10 + int(t[j]-'0')
			j++
			k++
		}
		if k > 3 || v > 255 {
			return 0, false
		}
		if part < 3 {
			if j >= len(t) || t[j] != '.' {
				return 0, false
			}
			j++
		}
	}
	if j < len(t) && (isAlnum(t[j]) || t[j] == '_' || (t[j] == '.' && j+1 < len(t) && isDigit(t[j+1]))) {
		return 0, false
	}
	return j, true
}

func netByte(c byte) bool { return isHex(c) || c == ':' || c == '.' || c == '-' }

// netRun returns the maximal run of address characters around i. Runs are measured once
// and remembered: every word start inside "a.a.a.…" or "1-1-1-…" falls in the same run,
// and scanning it again from each of them would make the scan quadratic.
func (s *scanner) netRun(i int) (start, end int) {
	if i >= s.netStart && i < s.netEnd {
		return s.netStart, s.netEnd
	}
	t := s.text
	// A run that ended at s.netEnd cannot continue past it, so the backward scan stops there.
	st := i
	for st > s.netEnd && netByte(t[st-1]) {
		st--
		s.steps++
	}
	e := i
	for e < len(t) && netByte(t[e]) {
		e++
		s.steps++
	}
	s.netStart, s.netEnd = st, e
	return st, e
}

// ipOrMAC handles a word start that may begin an IPv4/IPv6 or MAC address.
func (s *scanner) ipOrMAC(i int) {
	t := s.text
	// A position inside a token that was already examined from its own start is skipped.
	st, e := s.netRun(i)
	if st < i && (st == 0 || !wordByte(t[st-1]) || t[st:i] != ":") {
		return
	}
	// The whole token of address characters must parse, so that fragments of invalid
	// addresses ("2001:db8::256.1.1.1", "192.168.1.256") never match.
	for e > i && (t[e-1] == '.' || t[e-1] == '-' || t[e-1] == ':' && (e-i < 2 || t[e-2] != ':')) {
		e--
	}
	if e < len(t) && (isAlnum(t[e]) || t[e] == '_' || t[e] >= 0x80) {
		return
	}
	tok := t[i:e]
	if len(tok) < 2 {
		return
	}
	colons := strings.Count(tok, ":")
	if s.set.Has(IPAddress) {
		if colons == 0 {
			if end, ok := ipv4At(t, i); ok && end == e {
				s.add(IPAddress, i, cidrEnd(t, e, 32), 0.9)
				return
			}
		} else if colons >= 2 && !strings.Contains(tok, "-") {
			if a, err := netip.ParseAddr(tok); err == nil && a.Is6() &&
				(strings.Contains(tok, "::") || colons == 7 || colons == 6 && strings.Contains(tok, ".")) {
				ce := cidrEnd(t, e, 128)
				if len(tok) > 2 || ce > e {
					s.add(IPAddress, i, ce, 0.9)
				}
				return
			}
		}
	}
	if s.set.Has(MACAddress) && isMAC(tok) {
		s.add(MACAddress, i, e, 0.9)
	}
}

func isMAC(tok string) bool {
	var hex []byte
	var buf [12]byte
	hex = buf[:0]
	switch len(tok) {
	case 17:
		sep := tok[2]
		if sep != ':' && sep != '-' {
			return false
		}
		for k := 0; k < 17; k++ {
			if k%3 == 2 {
				if tok[k] != sep {
					return false
				}
				continue
			}
			if !isHex(tok[k]) {
				return false
			}
			hex = append(hex, tok[k]|0x20)
		}
	case 14:
		for k := 0; k < 14; k++ {
			if k%5 == 4 {
				if tok[k] != '.' {
					return false
				}
				continue
			}
			if !isHex(tok[k]) {
				return false
			}
			hex = append(hex, tok[k]|0x20)
		}
	default:
		return false
	}
	h := string(hex)
	return h != "000000000000" && h != "ffffffffffff"
}

var awsKeyPrefixes = []string{"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA"}

// awsAccessKey handles an upper-case word start: a 20-character AWS access key ID.
func (s *scanner) awsAccessKey(i int) {
	t := s.text
	if i+20 > len(t) || t[i] != 'A' {
		return
	}
	p := t[i : i+4]
	ok := false
	for _, k := range awsKeyPrefixes {
		if p == k {
			ok = true
			break
		}
	}
	if !ok {
		return
	}
	for k := i + 4; k < i+20; k++ {
		if !isUpper(t[k]) && !(t[k] >= '2' && t[k] <= '7') && !isDigit(t[k]) {
			return
		}
	}
	if i+20 < len(t) && wordByte(t[i+20]) {
		return
	}
	s.add(AWSAccessKey, i, i+20, 0.95)
}

func b64Byte(c byte) bool { return isAlnum(c) || c == '/' || c == '+' }

// awsSecret handles a 40-character base64 token that looks like an AWS secret access key:
// mixed case and digits, and either a secret-key context word nearby or a '/' or '+'.
func (s *scanner) awsSecret(i int) {
	t := s.text
	if i+40 > len(t) {
		return
	}
	var up, lo, dg, sym int
	for k := i; k < i+40; k++ {
		c := t[k]
		switch {
		case isUpper(c):
			up++
		case isLower(c):
			lo++
		case isDigit(c):
			dg++
		case c == '/' || c == '+':
			sym++
		default:
			return
		}
	}
	if i+40 < len(t) && (b64Byte(t[i+40]) || t[i+40] == '=') {
		return
	}
	if up < 3 || lo < 3 || dg+sym < 2 {
		return
	}
	if sym == 0 && !s.context(i, i+40, 60, 0, secretWords) {
		return
	}
	s.add(AWSSecretKey, i, i+40, 0.8)
}

// cidrEnd extends an address ending at e over a "/prefix" of at most maxBits.
func cidrEnd(t string, e, maxBits int) int {
	if e+1 >= len(t) || t[e] != '/' || !isDigit(t[e+1]) {
		return e
	}
	k, v := e+1, 0
	for k < len(t) && isDigit(t[k]) && k-e <= 3 {
		v = v*10 + int(t[k]-'0')
		k++
	}
	if v > maxBits || (k < len(t) && (isAlnum(t[k]) || t[k] == '/')) {
		return e
	}
	return k
}
