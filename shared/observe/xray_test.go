package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/observe"
)

// daemon is a fake X-Ray daemon: a UDP socket collecting segment documents.
type daemon struct {
	conn *net.UDPConn
}

func newDaemon(t *testing.T) *daemon {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &daemon{conn: c}
}

func (d *daemon) addr() string { return d.conn.LocalAddr().String() }

// next reads one datagram, checks the daemon protocol header and decodes the document.
func (d *daemon) next(t *testing.T) map[string]any {
	t.Helper()
	buf := make([]byte, 65536)
	_ = d.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := d.conn.Read(buf)
	if err != nil {
		t.Fatalf("no segment received: %v", err)
	}
	hdr, body, ok := bytes.Cut(buf[:n], []byte("\n"))
	if !ok || string(hdr) != `{"format":"json","version":1}` {
		t.Fatalf("daemon header %q", hdr)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return doc
}

// none asserts nothing arrives (the check after a no-op: a short read deadline is the
// only way to observe absence on UDP).
func (d *daemon) none(t *testing.T) {
	t.Helper()
	_ = d.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 65536)
	if n, err := d.conn.Read(buf); err == nil {
		t.Fatalf("unexpected segment %s", buf[:n])
	}
}

const invocationHeader = "Root=1-6744a0b1-2b1d7f0c4f5e3a2b1c0d9e8f;Parent=53995c3f42cd8ad8;Sampled=1"

func TestParseTraceHeader(t *testing.T) {
	cases := []struct {
		in   string
		want observe.TraceHeader
		ok   bool
	}{
		{invocationHeader, observe.TraceHeader{Root: "1-6744a0b1-2b1d7f0c4f5e3a2b1c0d9e8f", Parent: "53995c3f42cd8ad8", Sampled: true}, true},
		{"Root=1-a-b;Sampled=0;Lineage=a87bd80c:1", observe.TraceHeader{Root: "1-a-b"}, true},
		{"Sampled=1", observe.TraceHeader{Sampled: true}, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := observe.ParseTraceHeader(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %+v %v", got, ok)
			}
		})
	}
}

func TestSubsegmentDocument(t *testing.T) {
	d := newDaemon(t)
	clock := time.Unix(1764064800, 0)
	tr := observe.NewTracer(observe.WithDaemonAddress(d.addr()), observe.WithTracerClock(func() time.Time {
		clock = clock.Add(250 * time.Millisecond)
		return clock
	}))
	ctx := observe.WithLambdaTraceHeader(context.Background(), invocationHeader)
	ctx, parent := tr.Begin(ctx, "DynamoDB", observe.NamespaceAWS)
	_, child := tr.Begin(ctx, "child", "")
	child.SetHTTPStatus(429, 0)
	child.Close(errors.New("throttled"))
	c := d.next(t)
	parent.SetAWS(map[string]any{"operation": "GetItem", "region": "eu-west-1"})
	parent.SetHTTPStatus(200, 0)
	parent.Close(nil)
	parent.Close(nil) // idempotent: sends once
	p := d.next(t)
	d.none(t)

	if p["type"] != "subsegment" || p["name"] != "DynamoDB" || p["namespace"] != "aws" || p["trace_id"] != "1-6744a0b1-2b1d7f0c4f5e3a2b1c0d9e8f" || p["parent_id"] != "53995c3f42cd8ad8" {
		t.Errorf("parent %v", p)
	}
	if id, _ := p["id"].(string); len(id) != 16 {
		t.Errorf("id %q", id)
	}
	if p["start_time"].(float64) >= p["end_time"].(float64) {
		t.Errorf("times %v %v", p["start_time"], p["end_time"])
	}
	if aws := p["aws"].(map[string]any); aws["operation"] != "GetItem" || aws["region"] != "eu-west-1" {
		t.Errorf("aws %v", aws)
	}
	if p["fault"] != nil || p["error"] != nil {
		t.Errorf("flags %v", p)
	}
	if c["parent_id"] != p["id"] || c["trace_id"] != p["trace_id"] {
		t.Errorf("child not nested: %v under %v", c, p)
	}
	if c["error"] != true || c["throttle"] != true || c["fault"] != nil || c["cause"] == nil {
		t.Errorf("child flags %v", c)
	}
}

func TestTracerIsInertWithoutTrace(t *testing.T) {
	d := newDaemon(t)
	cases := []struct {
		name string
		tr   *observe.Tracer
		ctx  context.Context
	}{
		{"nil tracer", nil, observe.WithLambdaTraceHeader(context.Background(), invocationHeader)},
		{"not in Lambda", observe.NewTracer(), observe.WithLambdaTraceHeader(context.Background(), invocationHeader)},
		{"no invocation header", observe.NewTracer(observe.WithDaemonAddress(d.addr())), context.Background()},
		{"not sampled", observe.NewTracer(observe.WithDaemonAddress(d.addr())), observe.WithLambdaTraceHeader(context.Background(), "Root=1-a-b;Parent=53995c3f42cd8ad8;Sampled=0")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LAMBDA_TASK_ROOT", "")
			ctx, seg := tc.tr.Begin(tc.ctx, "x", "")
			if seg != nil || ctx != tc.ctx {
				t.Fatal("a subsegment was opened")
			}
			seg.SetHTTPStatus(500, 1)
			seg.Close(errors.New("x"))
		})
	}
	d.none(t)
}

func TestTransportTracesAndPropagates(t *testing.T) {
	d := newDaemon(t)
	var seen string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get("X-Amzn-Trace-Id")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "data: partial\n\n")
	}))
	defer up.Close()
	tr := observe.NewTracer(observe.WithDaemonAddress(d.addr()))
	c := &http.Client{Transport: tr.Transport(nil)}
	req, _ := http.NewRequestWithContext(observe.WithLambdaTraceHeader(context.Background(), invocationHeader), "POST", up.URL+"/v1/chat/completions?key=secret", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	doc := d.next(t)
	d.none(t)
	h, ok := observe.ParseTraceHeader(seen)
	if !ok || h.Root != "1-6744a0b1-2b1d7f0c4f5e3a2b1c0d9e8f" || h.Parent != doc["id"] || !h.Sampled {
		t.Errorf("propagated %q for subsegment %v", seen, doc["id"])
	}
	httpDoc := doc["http"].(map[string]any)
	rq, rs := httpDoc["request"].(map[string]any), httpDoc["response"].(map[string]any)
	if doc["namespace"] != "remote" || doc["name"] != up.Listener.Addr().String() || rq["method"] != "POST" ||
		rq["url"] != up.URL+"/v1/chat/completions" || rs["status"] != float64(502) || doc["fault"] != true {
		t.Errorf("document %v", doc)
	}
}
