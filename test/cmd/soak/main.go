// Command soak drives mixed traffic (chat, streamed chat, embeddings, retrieval,
// guardrail checks, document uploads and deletes) at the local platform for a while and
// prints, every interval, the requests, errors, p50/p99 latency and the server's
// resident memory; at the end a summary with the memory trend. It exits 1 on any error
// or when memory keeps growing.
//
//	go run ./test/cmd/soak                 (make soak)
//
// Environment: SOAK_DURATION (10m), SOAK_RATE (requests per second, 100), SOAK_WORKERS
// (16), SOAK_INTERVAL (30s). It builds functions/local, runs it on a free loopback port
// with a fresh data directory, and stops it at the end.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

const adminKey = "adm-soak"

func run() error {
	duration := envDuration("SOAK_DURATION", 10*time.Minute)
	interval := envDuration("SOAK_INTERVAL", 30*time.Second)
	rate := envInt("SOAK_RATE", 100)
	workers := envInt("SOAK_WORKERS", 16)

	work, err := os.MkdirTemp("", "plinth-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "plinth-local")
	build := exec.Command("go", "build", "-o", bin, "./functions/local")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build functions/local: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	data := filepath.Join(work, "data")
	srv := exec.Command(bin)
	srv.Env = append(os.Environ(), "PLINTH_ADDR="+addr, "PLINTH_DATA="+data, "PLINTH_ADMIN_KEY="+adminKey, "PLINTH_LOG_LEVEL=error")
	var serverErr bytes.Buffer
	srv.Stdout, srv.Stderr = io.Discard, &serverErr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	}()
	base := "http://" + addr
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxIdleConns: workers}}
	if err := waitHealthy(client, base); err != nil {
		return fmt.Errorf("%w\n%s", err, serverErr.String())
	}
	key, err := setup(client, base)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Printf("soak: %s of mixed traffic at %d req/s (%d workers) against %s (pid %d)\n", duration, rate, workers, base, srv.Process.Pid)
	fmt.Printf("%8s %8s %7s %7s %9s %9s %12s %12s\n", "elapsed", "requests", "req/s", "errors", "p50 ms", "p99 ms", "anon RSS MB", "file RSS MB")

	d := &driver{client: client, base: base, key: key}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	jobs := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				d.once(ctx)
			}
		}()
	}
	report := time.NewTicker(interval)
	defer report.Stop()
	start := time.Now()
	var samples []sample
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			select {
			case jobs <- struct{}{}:
			default: // every worker busy: the platform is behind; skip rather than queue
				d.skipped.Add(1)
			}
		case <-report.C:
			samples = append(samples, d.report(time.Since(start), interval, srv.Process.Pid))
		}
	}
	close(jobs)
	wg.Wait()
	if rest := time.Since(start) - time.Duration(len(samples))*interval; rest >= time.Second {
		samples = append(samples, d.report(time.Since(start), rest, srv.Process.Pid))
	}
	return summarize(d, samples, serverErr.String())
}

// sample is one interval's memory: rssMB is the anonymous resident memory (heap, stacks),
// where a leak shows; fileMB is the file-backed part, mostly the embedded store's
// memory-mapped database, which grows with the data the traffic writes.
type sample struct {
	at     time.Duration
	rssMB  float64
	fileMB float64
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(c *http.Client, base string) error {
	for range 300 {
		if resp, err := c.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("the platform did not become healthy in 30s")
}

// call sends a JSON request and returns the status and body.
func call(c *http.Client, method, url, key string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// setup creates the soak tenant, its key, a knowledge base with documents and a
// guardrail policy, and waits until the documents are indexed.
func setup(c *http.Client, base string) (string, error) {
	steps := []struct {
		path string
		body any
	}{
		{"/admin/guardrail-policies", map[string]any{"id": "soak-pii", "name": "soak-pii", "blockedInputMessaging": "blocked",
			"sensitiveInformationPolicyConfig": map[string]any{"piiEntitiesConfig": []map[string]any{{"type": "EMAIL", "action": "ANONYMIZE"}, {"type": "US_SOCIAL_SECURITY_NUMBER", "action": "BLOCK"}}},
			"contentPolicyConfig":              map[string]any{"filtersConfig": []map[string]any{{"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"}}}}},
		{"/admin/tenants", map[string]any{"id": "soak", "name": "Soak", "guardrail_policy": "soak-pii"}},
		{"/admin/knowledge-bases", map[string]any{"tenant": "soak", "id": "docs"}},
	}
	for _, s := range steps {
		if status, b, err := call(c, "POST", base+s.path, adminKey, s.body); err != nil || status != 201 {
			return "", fmt.Errorf("POST %s: %d %s %v", s.path, status, b, err)
		}
	}
	status, b, err := call(c, "POST", base+"/admin/tenants/soak/keys", adminKey, map[string]any{"name": "soak", "scopes": []string{"inference", "retrieval"}})
	if err != nil || status != 201 {
		return "", fmt.Errorf("create key: %d %s %v", status, b, err)
	}
	var k struct{ Key string }
	_ = json.Unmarshal(b, &k)
	for i, text := range corpus {
		if _, err := upload(c, base, k.Key, fmt.Sprintf("handbook-%d.md", i), text); err != nil {
			return "", err
		}
	}
	for range 600 {
		status, b, err := call(c, "GET", base+"/v1/knowledge-bases/docs/documents", k.Key, nil)
		if err == nil && status == 200 && strings.Count(string(b), `"indexed"`) == len(corpus) {
			return k.Key, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("the documents were not indexed within 60s")
}

var corpus = []string{
	"# Leave\nParental leave is sixteen weeks at full pay. Employees may split it into two blocks.\n\n## Holidays\nEveryone gets twenty-eight days of paid holiday a year.\n",
	"# Expenses\nTravel is booked through the portal. Meals are refunded up to 40 EUR a day with receipts.\n\n## Equipment\nLaptops are replaced every three years.\n",
	"# Security\nReport incidents to the security desk within one hour. Passwords rotate every ninety days; hardware keys are mandatory for admins.\n",
}

func upload(c *http.Client, base, key, name, text string) (string, error) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = io.WriteString(fw, text)
	_ = mw.WriteField("metadata", `{"source":"soak"}`)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", base+"/v1/knowledge-bases/docs/documents", &form)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 {
		return "", fmt.Errorf("upload %s: %d %s", name, resp.StatusCode, b)
	}
	var doc struct{ ID string }
	_ = json.Unmarshal(b, &doc)
	return doc.ID, nil
}

// driver runs operations and keeps their latencies and errors.
type driver struct {
	client    *http.Client
	base, key string

	mu       sync.Mutex
	lat      []time.Duration // since the last report
	all      []time.Duration
	requests int
	errs     map[string]int
	lastErrs []string
	uploaded []string
	skipped  counter
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) Add(n int) { c.mu.Lock(); c.n += n; c.mu.Unlock() }

var ops = []struct {
	name   string
	weight int
}{{"chat", 30}, {"stream", 20}, {"embeddings", 15}, {"retrieve", 15}, {"guardrails", 15}, {"upload", 5}}

func (d *driver) once(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	n := rand.IntN(100)
	op := ops[len(ops)-1].name
	for _, o := range ops {
		if n < o.weight {
			op = o.name
			break
		}
		n -= o.weight
	}
	start := time.Now()
	err := d.do(op)
	el := time.Since(start)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests++
	d.lat = append(d.lat, el)
	d.all = append(d.all, el)
	if err != nil {
		if d.errs == nil {
			d.errs = map[string]int{}
		}
		d.errs[op]++
		if len(d.lastErrs) < 10 {
			d.lastErrs = append(d.lastErrs, op+": "+err.Error())
		}
	}
}

var questions = []string{"How long is parental leave?", "What is the meal allowance?", "When do passwords rotate?", "How many holiday days do we get?"}

func (d *driver) do(op string) error {
	q := questions[rand.IntN(len(questions))]
	expect := func(status int, b []byte, err error) error {
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("status %d: %.200s", status, b)
		}
		return nil
	}
	switch op {
	case "chat":
		return expect(call(d.client, "POST", d.base+"/v1/chat/completions", d.key, map[string]any{"model": "local-chat",
			"messages": []map[string]string{{"role": "user", "content": corpus[0] + "\n" + q + " Write to jane@example.com."}}}))
	case "stream":
		status, b, err := call(d.client, "POST", d.base+"/v1/chat/completions", d.key, map[string]any{"model": "local-chat", "stream": true,
			"stream_options": map[string]bool{"include_usage": true}, "messages": []map[string]string{{"role": "user", "content": corpus[1] + "\n" + q}}})
		if err := expect(status, b, err); err != nil {
			return err
		}
		if !strings.HasSuffix(strings.TrimSpace(string(b)), "data: [DONE]") {
			return fmt.Errorf("stream without [DONE]: %.200s", b)
		}
		return nil
	case "embeddings":
		return expect(call(d.client, "POST", d.base+"/v1/embeddings", d.key, map[string]any{"model": "local-embed", "input": []string{q, corpus[2]}}))
	case "retrieve":
		return expect(call(d.client, "POST", d.base+"/v1/knowledge-bases/docs/retrieve", d.key, map[string]any{"query": q, "top_k": 3}))
	case "guardrails":
		return expect(call(d.client, "POST", d.base+"/v1/guardrails/apply", d.key, map[string]any{"source": "INPUT",
			"content": []map[string]any{{"text": map[string]any{"text": q + " My email is jane@example.com."}}}}))
	case "upload":
		// Keep the corpus bounded: upload one document, delete the oldest beyond five.
		id, err := upload(d.client, d.base, d.key, fmt.Sprintf("note-%d.md", rand.Int()), "# Note\n"+q+" "+corpus[rand.IntN(len(corpus))])
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.uploaded = append(d.uploaded, id)
		var victim string
		if len(d.uploaded) > 5 {
			victim, d.uploaded = d.uploaded[0], d.uploaded[1:]
		}
		d.mu.Unlock()
		if victim != "" {
			status, b, err := call(d.client, "DELETE", d.base+"/v1/knowledge-bases/docs/documents/"+victim, d.key, nil)
			if err != nil || (status != 200 && status != 204) {
				return fmt.Errorf("delete %s: %d %.200s %v", victim, status, b, err)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown op %s", op)
}

func (d *driver) report(elapsed, window time.Duration, pid int) sample {
	d.mu.Lock()
	lat := d.lat
	d.lat = nil
	reqs := d.requests
	errs := 0
	for _, n := range d.errs {
		errs += n
	}
	d.mu.Unlock()
	anon, file := rssMB(pid)
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	fmt.Printf("%8s %8d %7.1f %7d %9.1f %9.1f %12.1f %12.1f\n", elapsed.Round(time.Second), reqs, float64(len(lat))/window.Seconds(), errs,
		ms(p50), ms(p99), anon, file)
	return sample{at: elapsed, rssMB: anon, fileMB: file}
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rssMB reads the process's anonymous and file-backed resident memory from /proc.
func rssMB(pid int) (anon, file float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	kb := func(rest string) float64 {
		v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		return v / 1024
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			anon = kb(rest)
		} else if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			file = kb(rest)
		}
	}
	return anon, file
}

// summarize prints the totals and the memory trend after warm-up (the first fifth of the
// run). A Go server's RSS saws up and down with each garbage collection, so the trend
// compares the medians of the first and last thirds of the samples, where a leak shows
// as a rising floor; it also prints a least-squares slope.
func summarize(d *driver, samples []sample, serverErr string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	errs := 0
	for _, n := range d.errs {
		errs += n
	}
	fmt.Printf("\nrequests %d, errors %d %v, skipped ticks %d (workers all busy), p50 %.1f ms, p99 %.1f ms\n",
		d.requests, errs, d.errs, d.skipped.n, ms(percentile(d.all, 0.5)), ms(percentile(d.all, 0.99)))
	for _, e := range d.lastErrs {
		fmt.Println("  error:", e)
	}
	warm := samples[len(samples)/5:]
	flat := true
	if len(warm) >= 3 {
		var sx, sy, sxx, sxy float64
		for _, s := range warm {
			x := s.at.Minutes()
			sx, sy, sxx, sxy = sx+x, sy+s.rssMB, sxx+x*x, sxy+x*s.rssMB
		}
		n := float64(len(warm))
		slope := (n*sxy - sx*sy) / (n*sxx - sx*sx)
		third := max(1, len(warm)/3)
		first, last := medianRSS(warm[:third]), medianRSS(warm[len(warm)-third:])
		growth := (last - first) / first * 100
		fmt.Printf("anonymous RSS after warm-up: median %.1f MB in the first third, %.1f MB in the last (%+.1f%%), slope %+.2f MB/min, max %.1f MB; file-backed RSS (the store's mapped file, growing with the data written) %.1f → %.1f MB\n",
			first, last, growth, slope, maxRSS(samples), warm[0].fileMB, warm[len(warm)-1].fileMB)
		flat = growth < 15
	}
	verdict := "PASS: 0 errors, flat memory"
	var failure error
	switch {
	case errs > 0:
		verdict, failure = "FAIL: errors", errors.New("requests failed")
	case !flat:
		verdict, failure = "FAIL: memory grows", errors.New("memory grew during the soak")
	}
	fmt.Println(verdict)
	if failure != nil && serverErr != "" {
		fmt.Printf("server stderr (last 2 kB):\n%s\n", serverErr[max(0, len(serverErr)-2048):])
	}
	return failure
}

func medianRSS(s []sample) float64 {
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = x.rssMB
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

func maxRSS(s []sample) float64 {
	m := 0.0
	for _, x := range s {
		m = max(m, x.rssMB)
	}
	return m
}
