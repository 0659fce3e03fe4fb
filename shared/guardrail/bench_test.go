package guardrail

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchText is about 4 KB of ordinary prose with a few entities, the size the latency
// target is stated for.
func benchText() string {
	para := "Our support team reviewed the ticket on Tuesday and found that the export job failed " +
		"because the storage quota was exceeded. The customer, reachable at ops@example.org or +1 415-555-0132, " +
		"asked whether the nightly backups at https://status.example.org/backups are affected. " +
		"We explained that backups run in a separate region and that no data was lost. "
	var b strings.Builder
	for b.Len() < 4096 {
		b.WriteString(para)
	}
	return b.String()[:4096]
}

func BenchmarkApply4KBAllDetectors(b *testing.B) {
	e := newEngine(b)
	p := loadPolicy(b, "policy_full.json")
	text := benchText()
	req := ApplyRequest{Source: SourceInput, Content: []ContentBlock{{Text: &TextBlock{Text: text}}}}
	ctx := context.Background()
	if _, err := e.Apply(ctx, p, req); err != nil {
		b.Fatal(err)
	}
	c, err := e.Compile(ctx, p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := e.ApplyCompiled(ctx, c, req); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, durs)
}

// reportPercentiles adds p50 and p99 latency (microseconds) to the benchmark output.
func reportPercentiles(b *testing.B, durs []time.Duration) {
	if len(durs) == 0 {
		return
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkStream4KB(b *testing.B) {
	e := newEngine(b)
	p := loadPolicy(b, "policy_full.json")
	text := benchText()
	ctx := context.Background()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s, err := e.NewStreamScanner(ctx, p, SourceOutput)
		if err != nil {
			b.Fatal(err)
		}
		for k := 0; k < len(text); k += 24 {
			s.Write(text[k:min(len(text), k+24)])
		}
		s.Flush()
	}
}
