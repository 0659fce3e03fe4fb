// Command gateway measures what the Plinth gateway adds to a model call.
//
// It starts a fast mock OpenAI-compatible upstream on loopback (in this process), builds
// and starts the local platform (functions/local) as a separate process, registers a
// model with provider "openai" pointing at the mock, and sends the same chat request
// directly to the mock and through the platform in interleaved A/B rounds with a
// closed-loop, keep-alive load generator at several concurrencies. It prints RPS, p50
// and p99 for both paths, the added latency, the platform's CPU time per request
// (utime+stime from /proc/<pid>/stat) and its peak RSS (VmHWM from /proc/<pid>/status).
//
// With -baseline REV it also builds functions/local from another revision (exported with
// git archive) and measures both platforms in the same interleaved rounds, then prints the
// figures before (REV) and after (this tree) side by side.
//
//	go run ./test/bench/gateway [-d 3s] [-rounds 2] [-c 1,16,64] [-cache=true] [-guardrails=true] [-baseline REV]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/provider/providertest"
	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// Targets from the foundation issue.
const (
	targetCPUPerReq     = 60 * time.Microsecond
	targetAddedP50C1    = 150 * time.Microsecond
	targetAddedP99C1    = 500 * time.Microsecond
	targetRPSRatioC16   = 0.35
	targetRSSBytes      = 40 << 20
	clockTicksPerSecond = 100 // USER_HZ: the unit of utime/stime in /proc/<pid>/stat on Linux
)

func main() {
	if up := os.Getenv(envProxyUpstream); up != "" {
		if err := serveFloorProxy(os.Getenv(envProxyAddr), up); err != nil {
			fail(err)
		}
		return
	}
	dur := flag.Duration("d", 3*time.Second, "duration of one measured round")
	rounds := flag.Int("rounds", 2, "A/B round pairs per concurrency")
	concs := flag.String("c", "1,16,64", "comma-separated concurrencies")
	withCache := flag.Bool("cache", true, "also measure cache hits (tenant cache enabled)")
	withFloor := flag.Bool("floor", true, "also measure a minimal forwarding proxy process, the floor of any gateway here")
	withGuardrails := flag.Bool("guardrails", true, "also measure CPU per request with a guardrail policy using every detector")
	baseRev := flag.String("baseline", "", "a git revision to build and measure in the same rounds, for before/after figures")
	flag.Parse()
	levels, err := parseInts(*concs)
	if err != nil {
		fail(err)
	}
	if err := run(*dur, *rounds, levels, *withCache, *withFloor, *withGuardrails, *baseRev); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench gateway:", err)
	os.Exit(1)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad concurrency %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// target is one side of the A/B comparison.
type target struct {
	name   string
	pid    int // the platform process measured for CPU, 0 for the upstream itself
	url    string
	key    string
	body   []byte
	client *http.Client
}

func newTarget(name, url, key string, body []byte, conns int) *target {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	return &target{name: name, url: url, key: key, body: body, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (t *target) do() (int, error) {
	req, err := http.NewRequest(http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if t.key != "" {
		req.Header.Set("Authorization", "Bearer "+t.key)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// result is one closed-loop round.
type result struct {
	lat     []time.Duration
	errs    int
	lastErr string
	elapsed time.Duration
	cpu     time.Duration // of the platform process, gateway rounds only
}

// load runs c workers, each sending its next request as soon as the last one is
// answered, for d.
func load(t *target, c int, d time.Duration) result {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		all     []time.Duration
		errs    int
		lastErr string
	)
	start := time.Now()
	deadline := start.Add(d)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			e, le := 0, ""
			for time.Now().Before(deadline) {
				t0 := time.Now()
				status, err := t.do()
				el := time.Since(t0)
				if err != nil || status != http.StatusOK {
					e++
					le = fmt.Sprintf("status %d err %v", status, err)
					continue
				}
				lat = append(lat, el)
			}
			mu.Lock()
			all = append(all, lat...)
			errs += e
			if le != "" {
				lastErr = le
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return result{lat: all, errs: errs, lastErr: lastErr, elapsed: time.Since(start)}
}

// summary aggregates rounds of one side at one concurrency.
type summary struct {
	n        int
	errs     int
	lastErr  string
	elapsed  time.Duration
	p50, p99 time.Duration
	cpu      time.Duration
}

func (s summary) rps() float64 { return float64(s.n) / s.elapsed.Seconds() }

func (s summary) cpuPerReq() time.Duration {
	if s.n == 0 {
		return 0
	}
	return s.cpu / time.Duration(s.n)
}

func summarize(rs []result) summary {
	var s summary
	var lat []time.Duration
	for _, r := range rs {
		lat = append(lat, r.lat...)
		s.errs += r.errs
		s.elapsed += r.elapsed
		s.cpu += r.cpu
		if r.lastErr != "" {
			s.lastErr = r.lastErr
		}
	}
	slices.Sort(lat)
	s.n = len(lat)
	s.p50, s.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return s
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// row is one concurrency's figures: direct, gateway (this tree) and baseline.
type row struct {
	c          int
	d, g, b    summary
	cacheGw    *summary
	cacheB     *summary
	cacheUpReq int
	floor      *summary
}

// measure runs one closed-loop round against t and charges it the CPU time its platform
// process spent meanwhile.
func measure(t *target, c int, d time.Duration) (result, error) {
	if t.pid == 0 {
		return load(t, c, d), nil
	}
	before, err := cpuTime(t.pid)
	if err != nil {
		return result{}, err
	}
	r := load(t, c, d)
	after, err := cpuTime(t.pid)
	if err != nil {
		return result{}, err
	}
	r.cpu = after - before
	return r, nil
}

// cpuTime returns the process's user+system CPU time from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed utime/stime")
	}
	return time.Duration(ut+st) * time.Second / clockTicksPerSecond, nil
}

// statusKB reads a "Name:   N kB" line of /proc/<pid>/status.
func statusKB(pid int, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", name, pid)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// setup is the platform configured for the benchmark.
type setup struct {
	p         *platformtest.Platform
	key       string // tenant with generous limits (and the PII policy when available)
	cacheKey  string // tenant with the response cache on ("" when unsupported)
	guardrail string // what the guardrail probe found
}

func configure(ctx context.Context, p *platformtest.Platform, mockURL string, mock *providertest.Handler) (*setup, error) {
	s := &setup{p: p}
	if _, err := p.RegisterModel(ctx, platformtest.OpenAIModel("bench-mock", "chat", mockURL+"/v1", "mock-upstream")); err != nil {
		return nil, err
	}
	if _, err := p.Review(ctx, "bench-mock", "approve"); err != nil {
		return nil, err
	}
	limits := map[string]any{"requests_per_minute": 100_000_000, "tokens_per_minute": 10_000_000_000, "daily_tokens": 1_000_000_000_000, "monthly_usd": 1e9}
	tenant := map[string]any{"id": "bench", "name": "Benchmark", "limits": limits}

	// The demo PII policy, if the platform serves guardrail policies.
	policy := map[string]any{
		"name": "bench-pii", "description": "PII anonymisation as in the demo policy",
		"sensitiveInformationPolicyConfig": map[string]any{"piiEntitiesConfig": []any{
			map[string]any{"type": "EMAIL", "action": "ANONYMIZE"},
			map[string]any{"type": "PHONE", "action": "ANONYMIZE"},
			map[string]any{"type": "CREDIT_DEBIT_CARD_NUMBER", "action": "BLOCK"},
			map[string]any{"type": "US_SOCIAL_SECURITY_NUMBER", "action": "BLOCK"},
		}},
	}
	resp, err := p.Admin(ctx, http.MethodPost, "/admin/guardrail-policies", policy)
	switch {
	case err != nil:
		return nil, err
	case resp.Status == http.StatusCreated:
		var out struct {
			ID string `json:"id"`
		}
		if err := resp.JSON(&out); err != nil || out.ID == "" {
			return nil, fmt.Errorf("guardrail policy created without an id: %s", resp)
		}
		tenant["guardrail_policy"] = out.ID
		s.guardrail = "policy " + out.ID + " assigned"
	default:
		s.guardrail = fmt.Sprintf("OFF: POST /admin/guardrail-policies answered %d", resp.Status)
	}
	if err := p.CreateTenant(ctx, tenant); err != nil {
		return nil, err
	}
	k, err := p.CreateKey(ctx, "bench")
	if err != nil {
		return nil, err
	}
	s.key = k.Key

	// Probe that the policy is applied: an email in the prompt must not reach the mock.
	if tenant["guardrail_policy"] != nil {
		r, err := p.Do(ctx, http.MethodPost, "/v1/chat/completions", s.key,
			`{"model":"bench-mock","messages":[{"role":"user","content":"Write to jane.doe@example.com please"}]}`)
		if err != nil {
			return nil, err
		}
		body, _ := mock.LastRequest()
		switch {
		case r.Status != http.StatusOK:
			s.guardrail += fmt.Sprintf("; probe answered %d", r.Status)
		case bytes.Contains(body, []byte("jane.doe@example.com")):
			s.guardrail += "; NOT applied on the request path (the email reached the upstream)"
		default:
			s.guardrail += "; applied (the email was anonymised before the upstream)"
		}
	}

	cached := map[string]any{"id": "bench-cache", "name": "Benchmark cache", "limits": limits,
		"cache": map[string]any{"enabled": true, "allow_sampled": true, "ttl_seconds": 3600}}
	if gp, ok := tenant["guardrail_policy"]; ok {
		cached["guardrail_policy"] = gp
	}
	if err := p.CreateTenant(ctx, cached); err != nil {
		fmt.Printf("cache variant unavailable: %v\n", err)
		return s, nil
	}
	ck, err := p.CreateKey(ctx, "bench-cache")
	if err != nil {
		return nil, err
	}
	s.cacheKey = ck.Key
	return s, nil
}

func run(dur time.Duration, rounds int, levels []int, withCache, withFloor, withGuardrails bool, baseRev string) error {
	ctx := context.Background()
	mock := providertest.NewOpenAIHandler(providertest.WithReply("Hello! How can I help you today?"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mockSrv := &http.Server{Handler: mock}
	go mockSrv.Serve(ln)
	defer mockSrv.Close()
	mockURL := "http://" + ln.Addr().String()

	root, err := platformtest.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "plinth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Println("building functions/local …")
	bin, err := platformtest.Build(ctx, root, "./functions/local", tmp)
	if err != nil {
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	p, err := platformtest.Start(ctx, platformtest.Config{Binary: bin, DataDir: tmp + "/data", AdminKey: "adm-bench-" + randomHex(12), Output: devnull})
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = p.Stop(20 * time.Second)
		}
	}()
	s, err := configure(ctx, p, mockURL, mock)
	if err != nil {
		return err
	}
	var base *baseline
	if baseRev != "" {
		fmt.Printf("building functions/local at %s …\n", baseRev)
		bp, desc, err := startBaseline(ctx, root, baseRev, tmp+"/baseline", devnull)
		if err != nil {
			return err
		}
		defer func() { _ = bp.Stop(20 * time.Second) }()
		bs, err := configure(ctx, bp, mockURL, mock)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		base = &baseline{rev: desc, p: bp, s: bs}
	}

	body := []byte(`{"model":"bench-mock","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16,"temperature":0}`)
	maxConc := slices.Max(levels)
	direct := newTarget("direct", mockURL+"/v1/chat/completions", "", body, maxConc)
	gw := newTarget("gateway", p.URL+"/v1/chat/completions", s.key, body, maxConc)
	gw.pid = p.PID()
	targets := []*target{direct, gw}
	var bgw *target
	if base != nil {
		bgw = newTarget("baseline", base.p.URL+"/v1/chat/completions", base.s.key, body, maxConc)
		bgw.pid = base.p.PID()
		targets = append(targets, bgw)
	}

	// Every path must answer before anything is measured.
	for _, t := range targets {
		if st, err := t.do(); err != nil || st != http.StatusOK {
			return fmt.Errorf("%s sanity request: status %d, %v", t.name, st, err)
		}
	}

	pid := p.PID()
	fmt.Printf("\nGateway overhead: mock OpenAI upstream on loopback vs. the same request through functions/local (pid %d)\n", pid)
	fmt.Printf("path: API key auth, model policy, quota reservation + reconciliation, usage record, JSON log line per request; guardrail: %s\n", s.guardrail)
	fmt.Printf("closed loop, keep-alive; %d interleaved A/B round pairs of %s per concurrency; %d CPUs shared by load generator, mock and gateway\n", rounds, dur, runtime.NumCPU())
	if base != nil {
		fmt.Printf("baseline: %s (pid %d), measured in the same rounds, order rotating\n", base.rev, base.p.PID())
	}
	fmt.Println()

	var rows []row
	for _, c := range levels {
		for _, t := range targets {
			load(t, c, dur/6) // warm-up: connections, caches
		}
		got := map[*target][]result{}
		for i := range rounds {
			// The order rotates so that no side always follows the same one.
			for j := range targets {
				t := targets[(i+j)%len(targets)]
				r, err := measure(t, c, dur)
				if err != nil {
					return err
				}
				got[t] = append(got[t], r)
			}
		}
		r := row{c: c, d: summarize(got[direct]), g: summarize(got[gw])}
		if bgw != nil {
			r.b = summarize(got[bgw])
		}
		rows = append(rows, r)
	}

	if withCache && s.cacheKey != "" {
		cg := newTarget("gateway-cache", p.URL+"/v1/chat/completions", s.cacheKey, body, maxConc)
		cg.pid = p.PID()
		var cb *target
		if base != nil && base.s.cacheKey != "" {
			cb = newTarget("baseline-cache", base.p.URL+"/v1/chat/completions", base.s.cacheKey, body, maxConc)
			cb.pid = base.p.PID()
		}
		for _, t := range []*target{cg, cb} {
			if t == nil {
				continue
			}
			if st, err := t.do(); err != nil || st != http.StatusOK { // fills the cache
				return fmt.Errorf("%s warm-up: status %d, %v", t.name, st, err)
			}
		}
		for i := range rows {
			c := rows[i].c
			if c > 16 {
				continue
			}
			// The baseline's cache round goes first in every other row, so neither side
			// always follows the other.
			baseRound := func() error {
				if cb == nil {
					return nil
				}
				load(cb, c, dur/6)
				r, err := measure(cb, c, dur)
				if err != nil {
					return err
				}
				sum := summarize([]result{r})
				rows[i].cacheB = &sum
				return nil
			}
			if i%2 == 1 {
				if err := baseRound(); err != nil {
					return err
				}
			}
			load(cg, c, dur/6)
			upBefore := mock.Requests()
			r, err := measure(cg, c, dur)
			if err != nil {
				return err
			}
			sum := summarize([]result{r})
			rows[i].cacheGw = &sum
			rows[i].cacheUpReq = mock.Requests() - upBefore
			if i%2 == 0 {
				if err := baseRound(); err != nil {
					return err
				}
			}
		}
	}

	var floorHWM int64
	if withFloor {
		f, err := startFloorProxy(mockURL)
		if err != nil {
			return err
		}
		ft := newTarget("floor", f.url+"/v1/chat/completions", "", body, maxConc)
		for i := range rows {
			load(ft, rows[i].c, dur/6)
			before, _ := cpuTime(f.pid())
			r := load(ft, rows[i].c, dur)
			after, _ := cpuTime(f.pid())
			r.cpu = after - before
			sum := summarize([]result{r})
			rows[i].floor = &sum
		}
		floorHWM, _ = statusKB(f.pid(), "VmHWM")
		f.stop()
	}

	mem, err := readMemory(pid)
	if err != nil {
		return err
	}
	hwm := mem.hwm
	var baseMem memory
	if base != nil {
		if baseMem, err = readMemory(base.p.PID()); err != nil {
			return err
		}
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }
	fmt.Printf("%4s | %10s %9s %9s | %10s %9s %9s | %9s %9s | %7s | %9s | %s\n",
		"conc", "direct rps", "p50 ms", "p99 ms", "gw rps", "p50 ms", "p99 ms", "+p50 ms", "+p99 ms", "gw/dir", "CPU/req", "errors (direct/gw)")
	for _, r := range rows {
		fmt.Printf("%4d | %10.0f %9s %9s | %10.0f %9s %9s | %9s %9s | %6.0f%% | %7.1fµs | %d/%d\n",
			r.c, r.d.rps(), ms(r.d.p50), ms(r.d.p99), r.g.rps(), ms(r.g.p50), ms(r.g.p99),
			ms(r.g.p50-r.d.p50), ms(r.g.p99-r.d.p99), 100*r.g.rps()/r.d.rps(),
			float64(r.g.cpuPerReq())/float64(time.Microsecond), r.d.errs, r.g.errs)
		if r.g.lastErr != "" || r.d.lastErr != "" {
			fmt.Printf("     last errors: direct %q gateway %q\n", r.d.lastErr, r.g.lastErr)
		}
	}
	fmt.Printf("\nplatform memory: peak RSS (VmHWM) %.1f MB, RSS now %.1f MB = %.1f MB anonymous + %.1f MB file-backed (the store's mapped pages)\n",
		mb(mem.hwm), mb(mem.rss), mb(mem.anon), mb(mem.file))

	fmt.Println("\ntargets (foundation issue):")
	verdict := func(ok bool) string {
		if ok {
			return "MET"
		}
		return "MISSED"
	}
	var worstCPU time.Duration
	for _, r := range rows {
		worstCPU = max(worstCPU, r.g.cpuPerReq())
		if r.c == 1 {
			fmt.Printf("  c=1 added p50 %s ms (target ≤ %s)  %s\n", ms(r.g.p50-r.d.p50), ms(targetAddedP50C1), verdict(r.g.p50-r.d.p50 <= targetAddedP50C1))
			fmt.Printf("  c=1 added p99 %s ms (target ≤ %s)  %s\n", ms(r.g.p99-r.d.p99), ms(targetAddedP99C1), verdict(r.g.p99-r.d.p99 <= targetAddedP99C1))
		}
		if r.c == 16 {
			ratio := r.g.rps() / r.d.rps()
			fmt.Printf("  c=16 gateway RPS %.0f%% of direct (target ≥ %.0f%%)  %s\n", 100*ratio, 100*targetRPSRatioC16, verdict(ratio >= targetRPSRatioC16))
		}
	}
	for _, r := range rows {
		fmt.Printf("  c=%d CPU per request %.1f µs (target ≤ %.0f µs)  %s\n", r.c, float64(r.g.cpuPerReq())/float64(time.Microsecond),
			float64(targetCPUPerReq)/float64(time.Microsecond), verdict(r.g.cpuPerReq() <= targetCPUPerReq))
	}
	fmt.Printf("  peak RSS %.1f MB (target ≤ %d MB)  %s\n", float64(hwm)/1024, targetRSSBytes>>20, verdict(hwm*1024 <= targetRSSBytes))

	if withFloor {
		fmt.Println("\nfloor: a minimal Go forwarding proxy as a separate process (read, forward over keep-alive, copy back; nothing else):")
		for _, r := range rows {
			if r.floor == nil {
				continue
			}
			f := r.floor
			fmt.Printf("  c=%-3d rps %8.0f  p50 %s ms  p99 %s ms  added p50 %s ms  CPU/req %.1f µs  errors %d\n",
				r.c, f.rps(), ms(f.p50), ms(f.p99), ms(f.p50-r.d.p50), float64(f.cpuPerReq())/float64(time.Microsecond), f.errs)
		}
		fmt.Printf("  peak RSS %.1f MB\n", float64(floorHWM)/1024)
	}

	if withCache {
		fmt.Println("\ncache hits (tenant cache enabled, the same request again):")
		if s.cacheKey == "" {
			fmt.Println("  unavailable")
		}
		for _, r := range rows {
			if r.cacheGw == nil {
				continue
			}
			cg := r.cacheGw
			fmt.Printf("  c=%-3d rps %8.0f  p50 %s ms  p99 %s ms  CPU/req %.1f µs  upstream calls during the round: %d  errors %d\n",
				r.c, cg.rps(), ms(cg.p50), ms(cg.p99), float64(cg.cpuPerReq())/float64(time.Microsecond), r.cacheUpReq, cg.errs)
		}
	}
	if base != nil {
		printBeforeAfter(base.rev, rows, baseMem, mem)
	}
	if withGuardrails {
		if err := guardrailCost(ctx, p, dur, rounds, 16); err != nil {
			return err
		}
	}
	stopped = true
	if err := p.Stop(30 * time.Second); err != nil {
		return fmt.Errorf("stop the platform: %w", err)
	}
	return nil
}
