// Command guardrail measures the guardrail detectors' speed: the time per MB of each
// detector (PII, words, topics, content, prompt attack, grounding) on adversarial inputs
// (repeated separators, digits, dots, '@', long words) at 1 KB, 100 KB and 1 MB, which
// shows that each is linear in its input, and the latency distribution of a 4 KB text
// through every detector at once.
//
//	go run ./test/bench/guardrail [-n 2000] [-sizes 1024,102400,1048576]
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plinth-ai/plinth/shared/guardrail"
)

//go:embed policy.json
var policyJSON []byte

// inputs are the adversarial units, each repeated to the measured size, and one line of
// ordinary prose for comparison.
var inputs = []struct{ name, unit string }{
	{"prose", "Our support team reviewed the ticket on Tuesday and mailed ops@example.org about it. "},
	{"dots", "a."},
	{"digit-dots", "1."},
	{"digits", "1 "},
	{"dashes", "1-"},
	{"colons", "a:"},
	{"at-signs", "a@"},
	{"separators", ", "},
	{"newlines", "x\n"},
	{"long-word", "x"},
	{"masked-words", "f*ck "},
	{"urls", "http://a."},
	{"sentences", "Kill it. "},
}

func main() {
	n := flag.Int("n", 2000, "evaluations of the 4 KB text for the latency distribution")
	sizesFlag := flag.String("sizes", "1024,102400,1048576", "input sizes in bytes")
	table := flag.Bool("table", true, "print the ms-per-MB table (false: only the 4 KB figures)")
	flag.Parse()
	var full guardrail.Policy
	if err := json.Unmarshal(policyJSON, &full); err != nil {
		fail(err)
	}
	engine, err := guardrail.New()
	if err != nil {
		fail(err)
	}
	var sizes []int
	for _, s := range strings.Split(*sizesFlag, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v <= 0 {
			fail(fmt.Errorf("bad size %q", s))
		}
		sizes = append(sizes, v)
	}
	ctx := context.Background()
	fmt.Printf("Guardrail detectors, ms per MB of input (GOMAXPROCS %d); a linear detector keeps the figure flat across sizes\n", runtime.GOMAXPROCS(0))
	fmt.Printf("%-10s %-13s", "detector", "input")
	for _, s := range sizes {
		fmt.Printf(" %12s", sizeName(s))
	}
	fmt.Println()
	for _, d := range detectors(&full) {
		if !*table {
			break
		}
		c, err := engine.Compile(ctx, d.policy)
		if err != nil {
			fail(err)
		}
		// The first evaluation loads the detectors' embedded data; keep it out of the figures.
		if _, err := engine.ApplyCompiled(ctx, c, d.request(inputs[0].unit)); err != nil {
			fail(err)
		}
		for _, in := range inputs {
			fmt.Printf("%-10s %-13s", d.name, in.name)
			for _, size := range sizes {
				text := strings.Repeat(in.unit, size/len(in.unit)+1)[:size]
				fmt.Printf(" %12.1f", msPerMB(ctx, engine, c, d.request(text), size))
			}
			fmt.Println()
		}
	}
	latency(ctx, engine, &full, *n)
	perDetector(ctx, engine, &full, *n/4+1)
}

// text4KB is the 4 KB prose text of the latency figures.
func text4KB() string {
	para := inputs[0].unit + "The customer, reachable at +1 415-555-0132, asked whether the nightly backups at https://status.example.org are affected. "
	return strings.Repeat(para, 4096/len(para)+1)[:4096]
}

// perDetector prints the CPU time of the 4 KB text through each detector alone.
func perDetector(ctx context.Context, e *guardrail.Engine, full *guardrail.Policy, n int) {
	fmt.Printf("\nCPU time per evaluation of the 4 KB text, one detector at a time (%d runs each):\n", n)
	for _, d := range detectors(full) {
		c, err := e.Compile(ctx, d.policy)
		if err != nil {
			fail(err)
		}
		req := d.request(text4KB())
		if _, err := e.ApplyCompiled(ctx, c, req); err != nil {
			fail(err)
		}
		cpu0 := cpuTime()
		for i := 0; i < n; i++ {
			if _, err := e.ApplyCompiled(ctx, c, req); err != nil {
				fail(err)
			}
		}
		fmt.Printf("  %-10s %v\n", d.name, (cpuTime()-cpu0)/time.Duration(n))
	}
}

type detector struct {
	name    string
	policy  *guardrail.Policy
	request func(text string) guardrail.ApplyRequest
}

func input(text string) guardrail.ApplyRequest {
	return guardrail.ApplyRequest{Source: guardrail.SourceInput, Content: []guardrail.ContentBlock{{Text: &guardrail.TextBlock{Text: text}}}}
}

// detectors splits the full policy into one policy per detector.
func detectors(full *guardrail.Policy) []detector {
	only := func(name string, set func(p *guardrail.Policy)) *guardrail.Policy {
		p := &guardrail.Policy{Name: name}
		set(p)
		return p
	}
	var content, attack guardrail.ContentPolicyConfig
	for _, f := range full.ContentPolicyConfig.FiltersConfig {
		if f.Type == guardrail.FilterPromptAttack {
			attack.FiltersConfig = append(attack.FiltersConfig, f)
		} else {
			content.FiltersConfig = append(content.FiltersConfig, f)
		}
	}
	return []detector{
		{"pii", only("pii", func(p *guardrail.Policy) { p.SensitiveInformationPolicyConfig = full.SensitiveInformationPolicyConfig }), input},
		{"words", only("words", func(p *guardrail.Policy) { p.WordPolicyConfig = full.WordPolicyConfig }), input},
		{"topics", only("topics", func(p *guardrail.Policy) { p.TopicPolicyConfig = full.TopicPolicyConfig }), input},
		{"content", only("content", func(p *guardrail.Policy) { p.ContentPolicyConfig = &content }), input},
		{"attack", only("attack", func(p *guardrail.Policy) { p.ContentPolicyConfig = &attack }), input},
		{"grounding", only("grounding", func(p *guardrail.Policy) { p.ContextualGroundingPolicyConfig = full.ContextualGroundingPolicyConfig }),
			func(text string) guardrail.ApplyRequest {
				return guardrail.ApplyRequest{Source: guardrail.SourceOutput, Content: []guardrail.ContentBlock{
					{Text: &guardrail.TextBlock{Text: text, Qualifiers: []string{guardrail.QualifierGroundingSource}}},
					{Text: &guardrail.TextBlock{Text: "what happened to the ticket?", Qualifiers: []string{guardrail.QualifierQuery}}},
					{Text: &guardrail.TextBlock{Text: text}},
				}}
			}},
	}
}

// msPerMB evaluates req until at least 50 ms (and once at least) have passed.
func msPerMB(ctx context.Context, e *guardrail.Engine, c *guardrail.Compiled, req guardrail.ApplyRequest, size int) float64 {
	var total time.Duration
	runs := 0
	for total < 50*time.Millisecond {
		t0 := time.Now()
		if _, err := e.ApplyCompiled(ctx, c, req); err != nil {
			fail(err)
		}
		total += time.Since(t0)
		runs++
	}
	perRun := total.Seconds() * 1000 / float64(runs)
	return perRun * float64(1<<20) / float64(size)
}

// latency prints the distribution of a 4 KB prose text through every detector.
func latency(ctx context.Context, e *guardrail.Engine, full *guardrail.Policy, n int) {
	c, err := e.Compile(ctx, full)
	if err != nil {
		fail(err)
	}
	text := text4KB()
	req := guardrail.ApplyRequest{Source: guardrail.SourceInput, Content: []guardrail.ContentBlock{
		{Text: &guardrail.TextBlock{Text: text}},
		{Text: &guardrail.TextBlock{Text: text, Qualifiers: []string{guardrail.QualifierGroundingSource}}},
		{Text: &guardrail.TextBlock{Text: "are the backups affected?", Qualifiers: []string{guardrail.QualifierQuery}}},
	}}
	for i := 0; i < 50; i++ { // warm up
		if _, err := e.ApplyCompiled(ctx, c, req); err != nil {
			fail(err)
		}
	}
	durs := make([]time.Duration, 0, n)
	cpu0 := cpuTime()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := e.ApplyCompiled(ctx, c, req); err != nil {
			fail(err)
		}
		durs = append(durs, time.Since(t0))
	}
	cpu := (cpuTime() - cpu0) / time.Duration(n)
	slices.Sort(durs)
	at := func(q float64) time.Duration { return durs[min(len(durs)-1, int(q*float64(len(durs))))] }
	fmt.Printf("\n4 KB through every detector (PII, regex, words, topics, content, prompt attack, grounding), %d runs:\n", n)
	fmt.Printf("  p50 %v  p90 %v  p99 %v  max %v  (target p99 < 1ms); CPU time per evaluation %v\n", at(0.50), at(0.90), at(0.99), durs[len(durs)-1], cpu)
	fmt.Println("  (wall-clock percentiles include time the process waited for a CPU; the CPU time does not)")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1024:
		return fmt.Sprintf("%d KB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
