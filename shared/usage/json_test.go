package usage

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendJSONIsWhatEncodingJSONWrites: the hand-written encoder must write exactly
// json.Marshal's bytes (records written either way are read back by encoding/json), and
// fail where it fails.
func TestAppendJSONIsWhatEncodingJSONWrites(t *testing.T) {
	base := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)
	strs := []string{"", "acme", "req_0123456789abcdef", "gpt-4o-mini", "a<b>&c", `quo"te\back`, "tab\there\n", "\x00\x1f",
		"héllo wörld", "日本語", "\u2028\u2029", "bad\xffutf8", "emoji 😀", "platform:eval"}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.001, 1e-6, 9.99e-7, 1e-7, 123456.789, 1e20, 1e21, 1.5e300, 5e-324, -2.5e-9, 0.1 + 0.2}
	zones := []*time.Location{time.UTC, time.FixedZone("CET", 3600), time.FixedZone("X", -(9*3600 + 30*60)), time.FixedZone("odd", 30)}
	times := []time.Time{base, base.Truncate(time.Second), base.Truncate(time.Millisecond), {}, time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()}
	rnd := rand.New(rand.NewPCG(7, 11))
	pick := func(ss []string) string { return ss[rnd.IntN(len(ss))] }
	var recs []Record
	for range 3000 {
		r := Record{RequestID: pick(strs), Tenant: pick(strs), KeyID: pick(strs), Model: pick(strs), Status: pick(strs),
			InputTokens: rnd.Int64N(1 << 40), OutputTokens: -rnd.Int64N(100), CostUSD: floats[rnd.IntN(len(floats))] * float64(rnd.IntN(3)+1),
			LatencyMS: rnd.Int64(), CacheHit: rnd.IntN(2) == 0, Guarded: rnd.IntN(2) == 0, HTTPStatus: []int{0, 200, 429, -1}[rnd.IntN(4)],
			Estimated: rnd.IntN(2) == 0, Streamed: rnd.IntN(2) == 0, Time: times[rnd.IntN(len(times))].In(zones[rnd.IntN(len(zones))])}
		if rnd.IntN(2) == 0 {
			r.Deployment = pick(strs)
		}
		if n := rnd.IntN(4); n > 0 {
			r.Guardrail = map[string]int{}
			for range n {
				r.Guardrail[pick(strs)] = rnd.IntN(5) - 1
			}
		}
		recs = append(recs, r)
	}
	recs = append(recs, Record{CostUSD: math.NaN()}, Record{CostUSD: math.Inf(1)}, Record{CostUSD: math.Inf(-1)}, Record{Guardrail: map[string]int{}})
	for _, r := range recs {
		want, wantErr := json.Marshal(r)
		got, err := r.AppendJSON([]byte("prefix"))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%+v: AppendJSON error %v, json.Marshal error %v", r, err, wantErr)
		}
		if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("AppendJSON wrote\n%s\njson.Marshal\n%s", got[len("prefix"):], want)
		}
	}
}

func BenchmarkRecordJSON(b *testing.B) {
	r := Record{RequestID: "req_0123456789abcdef01234567", Tenant: "acme", KeyID: "key_0123456789", Model: "gpt-4o-mini", Deployment: "openai-east",
		InputTokens: 1234, OutputTokens: 56, CostUSD: 0.000421, LatencyMS: 812, Status: StatusOK, HTTPStatus: 200, Time: time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)}
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = r.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(r)
		}
	})
}
