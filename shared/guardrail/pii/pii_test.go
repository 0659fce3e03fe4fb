package pii_test

import (
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/guardrail/eval"
	"github.com/plinth-ai/plinth/shared/guardrail/pii"
)

func dataDir(t *testing.T) string {
	t.Helper()
	d, err := eval.DataDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSynthF1 holds the measured quality on Presidio's synthetic set: exact-boundary F1 for
// the claimed types, and overlap F1 for ADDRESS, whose gold spans split addresses
// inconsistently.
func TestSynthF1(t *testing.T) {
	ex, err := eval.LoadSynth(dataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rep := eval.EvaluateSynth(ex, pii.All)
	exact := map[string]float64{
		"EMAIL": 0.95, "PHONE": 0.9, "CREDIT_DEBIT_CARD_NUMBER": 0.95, "INTERNATIONAL_BANK_ACCOUNT_NUMBER": 0.95,
		"IP_ADDRESS": 0.95, "URL": 0.95, "US_SOCIAL_SECURITY_NUMBER": 0.95, "NAME": 0.88,
	}
	for typ, min := range exact {
		m := rep.Exact[typ]
		if m == nil || m.F1() < min {
			t.Errorf("%s exact F1 = %v, want ≥ %.2f", typ, m, min)
		}
	}
	if m := rep.Overlap["ADDRESS"]; m == nil || m.F1() < 0.85 {
		t.Errorf("ADDRESS overlap F1 = %v, want ≥ 0.85", m)
	}
}

func TestRecognizerNegativesNeverFire(t *testing.T) {
	cases, err := eval.LoadRecognizerCases(dataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	res := eval.EvaluateCases(cases, pii.All)
	if len(res) < 8 {
		t.Fatalf("only %d mapped types evaluated", len(res))
	}
	negatives := 0
	for typ, r := range res {
		negatives += r.Negatives
		for _, s := range r.NegativeFired {
			t.Errorf("%s fired on a negative case: %s", typ, s)
		}
	}
	if negatives < 200 {
		t.Fatalf("only %d negative cases evaluated", negatives)
	}
	for _, typ := range []string{"CREDIT_DEBIT_CARD_NUMBER", "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "EMAIL", "MAC_ADDRESS"} {
		if r := res[typ]; r == nil || r.PositivesFound != r.Positives {
			t.Errorf("%s positives found %v", typ, r)
		}
	}
	if r := res["IP_ADDRESS"]; r == nil || float64(r.PositivesFound) < 0.9*float64(r.Positives) {
		t.Errorf("IP_ADDRESS positives found %v", r)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		text string
		want []string // "TYPE:match"
	}{
		{"mail jane.doe+x@mail.example.co.uk today", []string{"EMAIL:jane.doe+x@mail.example.co.uk"}},
		{"card 4111-1111-1111-1111 ok", []string{"CREDIT_DEBIT_CARD_NUMBER:4111-1111-1111-1111"}},
		{"card 4111-1111-1111-1112 bad luhn", nil},
		{"ssn 078-05-1120 is the advertising number", nil},
		{"SSN: 666-12-3456 has an invalid area", nil},
		{"SSN: 078-05-1123", []string{"US_SOCIAL_SECURITY_NUMBER:078-05-1123"}},
		{"ITIN 912-71-1234", []string{"US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER:912-71-1234"}},
		{"IBAN DE89 3704 0044 0532 0130 00.", []string{"INTERNATIONAL_BANK_ACCOUNT_NUMBER:DE89 3704 0044 0532 0130 00"}},
		{"IBAN DE89 3704 0044 0532 0130 01.", nil},
		{"from 192.168.0.1 and 2001:db8::1, not 999.1.1.1", []string{"IP_ADDRESS:192.168.0.1", "IP_ADDRESS:2001:db8::1"}},
		{"see https://example.com/path?q=1).", []string{"URL:https://example.com/path?q=1"}},
		{"AKIAIOSFODNN7EXAMPLE", []string{"AWS_ACCESS_KEY:AKIAIOSFODNN7EXAMPLE"}},
		{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []string{"AWS_SECRET_KEY:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"git sha 8f953371d3e85eddb89b05ed6b9e680791055315 is not a secret", nil},
		{"Call me on (415) 555-0132 tomorrow", []string{"PHONE:(415) 555-0132"}},
		{"In 1998 there were 12000 people.", nil},
		{"my checking account number is 12345678901", []string{"US_BANK_ACCOUNT_NUMBER:12345678901"}},
		{"passport number: 912803456", []string{"US_PASSPORT_NUMBER:912803456"}},
		{"My name is Sarah Connor and I live at 221 Baker Street, London.", []string{"NAME:Sarah Connor", "ADDRESS:221 Baker Street, London"}},
		{"The Entertainment Weekly list is out.", nil},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			var got []string
			for _, e := range pii.Detect(tc.text, pii.All, nil) {
				got = append(got, e.Type.String()+":"+tc.text[e.Start:e.End])
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDetectOnlyRequestedTypes(t *testing.T) {
	ents := pii.Detect("mail a@b.io or call (415) 555-0132", pii.Set(0).With(pii.Phone), nil)
	if len(ents) != 1 || ents[0].Type != pii.Phone {
		t.Fatalf("got %+v", ents)
	}
}

func BenchmarkDetect4KB(b *testing.B) {
	para := "Contact Jane Doe at jane.doe@example.com or +1 415-555-0132; card 4111 1111 1111 1111 was declined. " +
		"The office at 221 Baker Street, London handles refunds for account 12345678901 and IBAN GB82 WEST 1234 5698 7654 32. "
	text := strings.Repeat(para, 4096/len(para)+1)[:4096]
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var buf []pii.Entity
	for i := 0; i < b.N; i++ {
		buf = pii.Detect(text, pii.All, buf[:0])
	}
}

func TestDetectMoreTypes(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"He just turned 47 years old", []string{"AGE:47"}},
		{"Patient is a 65-year-old male", []string{"AGE:65"}},
		{"I have 47 apples", nil},
		{"card CVV 123, exp 09/27", []string{"CREDIT_DEBIT_CARD_CVV:123", "CREDIT_DEBIT_CARD_EXPIRY:09/27"}},
		{"my PIN is 4821", []string{"PIN:4821"}},
		{"routing number 011000015 for the transfer", []string{"US_BANK_ROUTING_NUMBER:011000015"}},
		{"routing number 011000016 for the transfer", nil},
		{"SIN: 046 454 286", []string{"CA_SOCIAL_INSURANCE_NUMBER:046 454 286"}},
		{"NHS number 943 476 5919", []string{"UK_NATIONAL_HEALTH_SERVICE_NUMBER:943 476 5919"}},
		{"NHS number 943 476 5918", nil},
		{"NI number AB 12 34 56 C on file", []string{"UK_NATIONAL_INSURANCE_NUMBER:AB 12 34 56 C"}},
		{"NI number DQ 12 34 56 C on file", nil},
		{"UTR 12345 67890", []string{"UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER:12345 67890"}},
		{"SWIFT code DEUTDEFF500", []string{"SWIFT_CODE:DEUTDEFF500"}},
		{"VIN 1M8GDM9AXKP042788 on the title", []string{"VEHICLE_IDENTIFICATION_NUMBER:1M8GDM9AXKP042788"}},
		{"password: hunter2!", []string{"PASSWORD:hunter2!"}},
		{"the password is required", nil},
		{"Username: jdoe_42", []string{"USERNAME:jdoe_42"}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			var got []string
			for _, e := range pii.Detect(tc.text, pii.All, nil) {
				got = append(got, e.Type.String()+":"+tc.text[e.Start:e.End])
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
