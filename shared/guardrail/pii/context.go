package pii

import "bytes"

type words [][]byte

func ws(list ...string) words {
	out := make(words, len(list))
	for i, s := range list {
		out[i] = []byte(s)
	}
	return out
}

var (
	phoneWords = ws("phone", "tel", "mobile", "cell", "fax", "call", "desk", "office", "contact", "reach",
		"dial", "text me", "sms", "whatsapp", "message", "registered", "answering", "ring", "landline",
		"telefon", "handy", "mob", "home", "work", "number is", "my number", "hotline", "extension")
	phoneOnlyWords = ws("phone", "tel:", "tel.", "mobile", "cell", "fax", "call", "dial", "whatsapp", "sms", "landline")
	cardWords      = ws("card", "credit", "debit", "visa", "mastercard", "amex", "cc ", "cc#", "cc:", "payment")
	ssnWords       = ws("ssn", "social security", "social sec", "ss#", "ss #")
	itinWords      = ws("itin", "taxpayer", "tax id", "tax identification")
	bankWords      = ws("account", "acct", "a/c", "bank", "checking", "savings")
	passportWords  = ws("passport", "travel document")
	driverWords    = ws("driver", "licence", "license", "dl#", "dl #", "dl:", "dl no")
	secretWords    = ws("secret", "aws_secret", "secret_access_key", "secretaccesskey", "aws")
)

// context reports whether any of list occurs (ASCII case-insensitively) within back bytes
// before start or fwd bytes after end. It does not allocate.
func (s *scanner) context(start, end, back, fwd int, list words) bool {
	var buf [160]byte
	t := s.text
	lo := max(0, start-back)
	n := copy(buf[:], t[lo:start])
	lowerASCII(buf[:n])
	for _, w := range list {
		if bytes.Contains(buf[:n], w) {
			return true
		}
	}
	if fwd > 0 {
		hi := min(len(t), end+fwd)
		n = copy(buf[:], t[end:hi])
		lowerASCII(buf[:n])
		for _, w := range list {
			if bytes.Contains(buf[:n], w) {
				return true
			}
		}
	}
	return false
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
}

// Cue lists used inside scanners, built once.
var (
	cueTheOfOn      = ws("the ", "of ", "on ")
	cueNotAge       = ws(":", "%", ".5")
	cueWasAge       = ws("he was ", "she was ", "i am ", "i'm ")
	cueLowerName    = ws("my name is ", "name is ", "name: ", "called ", "call me ", "i'm ")
	cueMyNameIs     = ws("my name is ", "name is ", "name: ")
	cueSingularVerb = ws(" is ", " has ", " was ")
	cueFirmBefore   = ws("the ", "from ", "at ", "of ")
)
