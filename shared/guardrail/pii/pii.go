// Package pii finds personally identifiable information in text with hand-written
// single-pass scanners and checksum validators, naming entities with Amazon Bedrock
// Guardrails' PII type names. It does not use regular expressions on the hot path: every
// scanner anchors on a cheap byte test (a digit, '@', ':', an upper-case letter) and
// validates candidates with checksums (Luhn, ISO 13616 mod-97), range rules (US SSN
// area/group/serial) and nearby context words where a format alone is ambiguous.
package pii

import (
	"context"
	"sort"
)

// Type is a PII entity type.
type Type uint8

// Entity types, named after Bedrock's PII types.
const (
	Email Type = iota
	Phone
	CreditCard
	SSN
	ITIN
	IBAN
	IPAddress
	MACAddress
	URL
	AWSAccessKey
	AWSSecretKey
	USBankAccount
	USPassport
	DriverID
	Name
	Address
	Age
	Password
	Username
	SwiftCode
	VIN
	CardCVV
	CardExpiry
	PIN
	RoutingNumber
	CASIN
	UKNHS
	UKNINO
	UKUTR
	numTypes
)

var typeNames = [numTypes]string{
	Email:         "EMAIL",
	Phone:         "PHONE",
	CreditCard:    "CREDIT_DEBIT_CARD_NUMBER",
	SSN:           "US_SOCIAL_SECURITY_NUMBER",
	ITIN:          "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
	IBAN:          "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
	IPAddress:     "IP_ADDRESS",
	MACAddress:    "MAC_ADDRESS",
	URL:           "URL",
	AWSAccessKey:  "AWS_ACCESS_KEY",
	AWSSecretKey:  "AWS_SECRET_KEY",
	USBankAccount: "US_BANK_ACCOUNT_NUMBER",
	USPassport:    "US_PASSPORT_NUMBER",
	DriverID:      "DRIVER_ID",
	Name:          "NAME",
	Address:       "ADDRESS",
	Age:           "AGE",
	Password:      "PASSWORD",
	Username:      "USERNAME",
	SwiftCode:     "SWIFT_CODE",
	VIN:           "VEHICLE_IDENTIFICATION_NUMBER",
	CardCVV:       "CREDIT_DEBIT_CARD_CVV",
	CardExpiry:    "CREDIT_DEBIT_CARD_EXPIRY",
	PIN:           "PIN",
	RoutingNumber: "US_BANK_ROUTING_NUMBER",
	CASIN:         "CA_SOCIAL_INSURANCE_NUMBER",
	UKNHS:         "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
	UKNINO:        "UK_NATIONAL_INSURANCE_NUMBER",
	UKUTR:         "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER",
}

// String returns the Bedrock type name.
func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "UNKNOWN"
}

// ParseType maps a Bedrock type name to a Type; ok is false for types this package does
// not detect.
func ParseType(name string) (Type, bool) {
	for i, n := range typeNames {
		if n == name {
			return Type(i), true
		}
	}
	return 0, false
}

// Set is a set of types.
type Set uint32

// Has reports whether t is in s.
func (s Set) Has(t Type) bool { return s&(1<<t) != 0 }

// With returns s plus t.
func (s Set) With(t Type) Set { return s | 1<<t }

// All is every type this package detects.
const All Set = 1<<numTypes - 1

// Supported lists the Bedrock names of every detected type.
func Supported() []string {
	out := make([]string, 0, numTypes)
	for _, n := range typeNames {
		out = append(out, n)
	}
	return out
}

// Entity is one finding: byte offsets [Start, End) into the scanned text.
type Entity struct {
	Type  Type
	Start int
	End   int
	Score float64
}

// priority breaks ties between overlapping candidates: higher wins.
var priority = [numTypes]int{
	Email: 90, URL: 60, IPAddress: 85, MACAddress: 84, AWSAccessKey: 95, AWSSecretKey: 70,
	IBAN: 88, CreditCard: 80, SSN: 78, ITIN: 77, USBankAccount: 50, USPassport: 52, DriverID: 51,
	Phone: 40, Name: 20, Address: 30,
	Age: 35, Password: 92, Username: 91, SwiftCode: 55, VIN: 58, CardCVV: 45, CardExpiry: 46, PIN: 44,
	RoutingNumber: 56, CASIN: 57, UKNHS: 54, UKNINO: 59, UKUTR: 53,
}

// Detect appends to dst the entities of the types in set found in text, sorted by start,
// without overlaps, and returns the extended slice. Its work is linear in len(text).
func Detect(text string, set Set, dst []Entity) []Entity {
	out, _ := DetectContext(context.Background(), text, set, dst)
	return out
}

// pollEvery is how many bytes the scan advances between looks at the context.
const pollEvery = 1 << 14

// DetectContext is Detect that stops when ctx is done: it looks at ctx every 16 KiB of
// text and then returns dst unchanged and ctx's error.
func DetectContext(ctx context.Context, text string, set Set, dst []Entity) ([]Entity, error) {
	base := len(dst)
	s := scanner{ctx: ctx, text: text, set: set, out: dst}
	if err := s.scan(); err != nil {
		return dst[:base], err
	}
	s.out = resolve(s.out, base)
	return s.out, nil
}

// resolve sorts out[base:] and removes overlaps, keeping the higher-priority (then longer) entity.
func resolve(out []Entity, base int) []Entity {
	ents := out[base:]
	if len(ents) < 2 {
		return out
	}
	sort.Slice(ents, func(i, j int) bool {
		if ents[i].Start != ents[j].Start {
			return ents[i].Start < ents[j].Start
		}
		return ents[i].End > ents[j].End
	})
	kept := ents[:0]
	for _, e := range ents {
		replaced := false
		drop := false
		for len(kept) > 0 {
			last := kept[len(kept)-1]
			if e.Start >= last.End {
				break
			}
			// Overlap: keep the stronger.
			if priority[e.Type] > priority[last.Type] ||
				(priority[e.Type] == priority[last.Type] && e.End-e.Start > last.End-last.Start) {
				kept = kept[:len(kept)-1]
				replaced = true
				continue
			}
			drop = true
			break
		}
		_ = replaced
		if !drop {
			kept = append(kept, e)
		}
	}
	return out[:base+len(kept)]
}

type scanner struct {
	ctx     context.Context
	text    string
	set     Set
	out     []Entity
	nameEnd int
	addrEnd int
	lower   int8 // 0 unknown, 1 text has no upper-case letters, 2 it has
	fb      []byte
	// netStart and netEnd delimit the last run of address characters measured (netRun).
	netStart, netEnd int
	// urlEnd is the end of the last URL found after a scheme.
	urlEnd int
	// steps counts bytes visited by the scans that extend a candidate beyond its anchor,
	// so tests can hold the detector to linear work.
	steps int
}

func (s *scanner) add(t Type, start, end int, score float64) {
	if s.set.Has(t) && end > start {
		s.out = append(s.out, Entity{Type: t, Start: start, End: end, Score: score})
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool { return isUpper(c) || isLower(c) }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// wordByte reports whether c continues a word (ASCII alnum, underscore, or any non-ASCII
// byte, so accented letters count as letters).
func wordByte(c byte) bool { return isAlnum(c) || c == '_' || c >= 0x80 }

func (s *scanner) scan() error {
	t := s.text
	n := len(t)
	const digitTypes = Set(1<<CreditCard | 1<<SSN | 1<<ITIN | 1<<Phone | 1<<USBankAccount | 1<<USPassport | 1<<DriverID |
		1<<Age | 1<<CardCVV | 1<<CardExpiry | 1<<PIN | 1<<RoutingNumber | 1<<CASIN | 1<<UKNHS | 1<<UKUTR | 1<<VIN)
	const netTypes = Set(1<<IPAddress | 1<<MACAddress)
	digitEnd := 0
	for i := 0; i < n; i++ {
		if i%pollEvery == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		c := t[i]
		if c == '@' {
			if s.set.Has(Email) {
				s.email(i)
			}
			continue
		}
		if c == ':' && s.set.Has(URL) && i+2 < n && t[i+1] == '/' && t[i+2] == '/' {
			s.urlScheme(i)
		}
		if i > 0 && wordByte(t[i-1]) {
			continue
		}
		switch {
		case isDigit(c) || c == '+' || c == '(':
			if s.set&netTypes != 0 && isDigit(c) {
				s.ipOrMAC(i)
			}
			if s.set&digitTypes != 0 && i >= digitEnd {
				if e := s.digits(i); e > digitEnd {
					digitEnd = e
				}
			}
			if isDigit(c) && s.set.Has(Address) {
				s.address(i)
			}
			if isDigit(c) && s.set.Has(VIN) {
				s.upperCode(i)
			}
		case isAlpha(c):
			if s.set&netTypes != 0 && isHex(c) {
				s.ipOrMAC(i)
			}
			if s.set.Has(URL) {
				s.urlWord(i)
			}
			if isUpper(c) {
				if s.set.Has(IBAN) {
					s.iban(i)
				}
				if s.set.Has(AWSAccessKey) {
					s.awsAccessKey(i)
				}
				if s.set&(1<<USPassport|1<<DriverID) != 0 {
					s.alnumID(i)
				}
				if s.set&(1<<SwiftCode|1<<VIN|1<<UKNINO) != 0 {
					s.upperCode(i)
				}
			}
			if s.set&(1<<Password|1<<Username) != 0 {
				s.credential(i)
			}
			if s.set.Has(AWSSecretKey) {
				s.awsSecret(i)
			}
			if s.set.Has(Name) {
				s.name(i)
			}
			if s.set.Has(Address) {
				s.addressWord(i)
			}
		case c == ':':
			if s.set.Has(IPAddress) {
				s.ipOrMAC(i)
			}
		case c >= 0x80:
			if s.set.Has(Name) {
				s.name(i)
			}
		}
	}
	return nil
}
