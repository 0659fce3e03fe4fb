package pii

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// adversarial are repeated units that once made scanners revisit the same bytes from every
// word start: dots, digits, separators, '@', colons, long words.
var adversarial = []string{"a.", "1.", "1-", "1:", "a:", "a-", "@", "a@", "a@b.", "1 ", ", ", "x", "A. ", "John ",
	"12 Main St ", "http://a.", "DE1", "+1 ", "(1", "1/", "ab:", "1.1.", "::", "AKIA"}

// TestScanWorkIsLinear holds the scanners that extend a candidate beyond its anchor to a
// bounded number of visited bytes per input byte.
func TestScanWorkIsLinear(t *testing.T) {
	for _, unit := range adversarial {
		text := strings.Repeat(unit, (1<<17)/len(unit))
		s := scanner{ctx: context.Background(), text: text, set: All}
		if err := s.scan(); err != nil {
			t.Fatal(err)
		}
		if s.steps > 2*len(text)+64 {
			t.Errorf("%q×%d: %d extension steps for %d bytes, want at most 2 per byte", unit, len(text)/len(unit), s.steps, len(text))
		}
	}
}

// TestDetectFindsAddressesInLongRuns checks the remembered run still finds what it should.
func TestDetectFindsAddressesInLongRuns(t *testing.T) {
	text := strings.Repeat("a.", 1000) + " 10.0.0.1 and fe80::1 and 01:23:45:67:89:ab"
	ents := Detect(text, All, nil)
	var got []string
	for _, e := range ents {
		got = append(got, e.Type.String()+"="+text[e.Start:e.End])
	}
	want := []string{"IP_ADDRESS=10.0.0.1", "IP_ADDRESS=fe80::1", "MAC_ADDRESS=01:23:45:67:89:ab"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// cancelAfter is a context whose Err reports Canceled from its n-th call on.
type cancelAfter struct {
	context.Context
	n     int64
	calls atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.calls.Add(1) >= c.n {
		return context.Canceled
	}
	return nil
}

func TestDetectContextStopsWhenCancelled(t *testing.T) {
	text := strings.Repeat("a.", 1<<19) // 1 MiB
	ctx := &cancelAfter{Context: context.Background(), n: 3}
	ents, err := DetectContext(ctx, text, All, nil)
	if !errors.Is(err, context.Canceled) || len(ents) != 0 {
		t.Fatalf("got %d entities, err %v; want none and context.Canceled", len(ents), err)
	}
	if got := ctx.calls.Load(); got != 3 {
		t.Fatalf("the scan looked at the context %d times, want it to stop at the 3rd look", got)
	}
}
