package pii

// ibanLengths is the IBAN length per country (ISO 13616 registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
	"JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
	"MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
	"NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
	"SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// ibanNumericBBAN lists countries whose BBAN is all digits, so a letter there is invalid.
var ibanNumericBBAN = map[string]bool{
	"AE": true, "AT": true, "BA": true, "BE": true, "CH": false, "CZ": true, "DE": true, "DK": true, "EE": true,
	"ES": true, "FI": true, "FO": true, "GL": true, "HR": true, "HU": true, "IL": true, "LT": true, "ME": true,
	"NO": true, "PL": true, "PT": true, "RS": true, "SE": true, "SI": true, "SK": true, "TL": true, "TN": true,
	"TR": false, "XK": true, "LU": false,
}

// iban handles an upper-case word start: country code, check digits and BBAN, compact or
// in groups of four separated by single spaces or dashes, with the mod-97 check.
func (s *scanner) iban(i int) {
	t := s.text
	if i+4 > len(t) || !isUpper(t[i+1]) || !isDigit(t[i+2]) || !isDigit(t[i+3]) {
		return
	}
	cc := t[i : i+2]
	want, ok := ibanLengths[cc]
	if !ok {
		return
	}
	var buf [40]byte
	b := buf[:0]
	j := i
	var sep byte
	for j < len(t) && len(b) < want {
		c := t[j]
		switch {
		case isDigit(c) || isUpper(c):
			b = append(b, c)
			j++
		case (c == ' ' || c == '-') && len(b)%4 == 0 && j+1 < len(t) && isAlnum(t[j+1]):
			if sep != 0 && sep != c {
				return
			}
			sep = c
			j++
		default:
			if isLower(c) {
				return
			}
			goto done
		}
	}
done:
	if len(b) != want {
		return
	}
	if j < len(t) && (isAlnum(t[j]) || t[j] == '_') {
		return
	}
	if ibanNumericBBAN[cc] {
		for _, c := range b[4:] {
			if !isDigit(c) {
				return
			}
		}
	}
	if !mod97(b) {
		return
	}
	s.add(IBAN, i, j, 0.95)
}

func mod97(b []byte) bool {
	r := 0
	step := func(c byte) {
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			v := int(c-'A') + 10
			r = (r*100 + v) % 97
		}
	}
	for _, c := range b[4:] {
		step(c)
	}
	for _, c := range b[:4] {
		step(c)
	}
	return r == 1
}
