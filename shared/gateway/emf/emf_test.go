package emf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/gateway/emf"
)

// emfUnits are the units the EMF specification allows in a MetricDefinition.
var emfUnits = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true,
	"Megabytes": true, "Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true,
	"Megabits": true, "Gigabits": true, "Terabits": true, "Percent": true, "Count": true,
	"Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true,
	"Terabytes/Second": true, "Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true,
	"Gigabits/Second": true, "Terabits/Second": true, "Count/Second": true, "None": true,
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validateEMF checks one log line against the EMF specification: a JSON object whose
// "_aws" metadata holds exactly Timestamp (ms number) and CloudWatchMetrics; each
// MetricDirective holds exactly Namespace, Dimensions and Metrics; every dimension
// and metric it references is a root member, dimensions non-empty strings, metrics
// numbers; units from the specification's list.
func validateEMF(line []byte) (map[string]json.RawMessage, error) {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(root["_aws"], &meta); err != nil {
		return nil, fmt.Errorf("_aws: %v", err)
	}
	if got := strings.Join(keys(meta), ","); got != "CloudWatchMetrics,Timestamp" {
		return nil, fmt.Errorf("_aws members %s", got)
	}
	var ts int64
	if err := json.Unmarshal(meta["Timestamp"], &ts); err != nil || ts <= 0 {
		return nil, fmt.Errorf("Timestamp %s", meta["Timestamp"])
	}
	var dirs []map[string]json.RawMessage
	if err := json.Unmarshal(meta["CloudWatchMetrics"], &dirs); err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("CloudWatchMetrics %s", meta["CloudWatchMetrics"])
	}
	for _, d := range dirs {
		if got := strings.Join(keys(d), ","); got != "Dimensions,Metrics,Namespace" {
			return nil, fmt.Errorf("directive members %s", got)
		}
		var ns string
		if err := json.Unmarshal(d["Namespace"], &ns); err != nil || ns == "" || len(ns) > 255 {
			return nil, fmt.Errorf("Namespace %s", d["Namespace"])
		}
		var dims [][]string
		if err := json.Unmarshal(d["Dimensions"], &dims); err != nil {
			return nil, fmt.Errorf("Dimensions: %v", err)
		}
		for _, set := range dims {
			if len(set) > 30 {
				return nil, fmt.Errorf("dimension set of %d", len(set))
			}
			for _, name := range set {
				var v string
				if err := json.Unmarshal(root[name], &v); err != nil || v == "" {
					return nil, fmt.Errorf("dimension %s = %s", name, root[name])
				}
			}
		}
		var ms []map[string]json.RawMessage
		if err := json.Unmarshal(d["Metrics"], &ms); err != nil || len(ms) == 0 || len(ms) > 100 {
			return nil, fmt.Errorf("Metrics %s", d["Metrics"])
		}
		for _, m := range ms {
			for k := range m {
				if k != "Name" && k != "Unit" && k != "StorageResolution" {
					return nil, fmt.Errorf("metric member %s", k)
				}
			}
			var name, unit string
			_ = json.Unmarshal(m["Name"], &name)
			if m["Unit"] != nil {
				_ = json.Unmarshal(m["Unit"], &unit)
				if !emfUnits[unit] {
					return nil, fmt.Errorf("unit %q", unit)
				}
			}
			var v float64
			if err := json.Unmarshal(root[name], &v); err != nil {
				return nil, fmt.Errorf("metric %s = %s", name, root[name])
			}
		}
	}
	return root, nil
}

func TestEMFRecordFollowsTheSpecification(t *testing.T) {
	now := time.UnixMilli(1764064800123)
	cases := []struct {
		name                   string
		rec                    gateway.UsageRecord
		tenant, model          string
		latency                float64
		tokens, errors, status int
	}{
		{"success", gateway.UsageRecord{RequestID: "req_1", TenantID: "acme", Model: "gpt-x", Endpoint: "chat.completions", InputTokens: 10, OutputTokens: 5, Latency: 12345 * time.Microsecond, Status: 200, Streamed: true},
			"acme", "gpt-x", 12.345, 15, 0, 200},
		{"upstream failure", gateway.UsageRecord{RequestID: "req_2", TenantID: "acme", Model: "local-chat", Status: 502, ErrorCode: "upstream_error", Latency: time.Second},
			"acme", "local-chat", 1000, 0, 1, 502},
		{"refused before the model was read", gateway.UsageRecord{RequestID: "req_3\"quoted", TenantID: "", Status: 400},
			"unknown", "unknown", 0, 0, 1, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			e := emf.New(&out, emf.WithClock(func() time.Time { return now }))
			e.Observe(&tc.rec)
			if n := strings.Count(out.String(), "\n"); n != 1 || !strings.HasSuffix(out.String(), "\n") {
				t.Fatalf("want one line, got %q", out.String())
			}
			root, err := validateEMF(bytes.TrimSpace(out.Bytes()))
			if err != nil {
				t.Fatalf("%v in %s", err, out.String())
			}
			var meta struct {
				Timestamp         int64
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			}
			_ = json.Unmarshal(root["_aws"], &meta)
			if meta.Timestamp != now.UnixMilli() {
				t.Errorf("Timestamp %d", meta.Timestamp)
			}
			d := meta.CloudWatchMetrics[0]
			if len(meta.CloudWatchMetrics) != 1 || d.Namespace != "Plinth" {
				t.Errorf("directives %+v", meta.CloudWatchMetrics)
			}
			if fmt.Sprint(d.Dimensions) != "[[Tenant Model]]" {
				t.Errorf("dimension sets %v, want exactly [[Tenant Model]]", d.Dimensions)
			}
			if fmt.Sprint(d.Metrics) != "[{Requests Count} {Latency Milliseconds} {Tokens Count} {Errors Count}]" {
				t.Errorf("metrics %v", d.Metrics)
			}
			var got struct {
				Tenant, Model, RequestId         string
				Requests, Tokens, Errors, Status int
				Latency                          float64
			}
			_ = json.Unmarshal(bytes.TrimSpace(out.Bytes()), &got)
			if got.Tenant != tc.tenant || got.Model != tc.model || got.Requests != 1 || got.Tokens != tc.tokens ||
				got.Errors != tc.errors || got.Status != tc.status || got.Latency != tc.latency || got.RequestId != tc.rec.RequestID {
				t.Errorf("values %+v", got)
			}
		})
	}
}

func TestEMFConcurrentLinesStayWhole(t *testing.T) {
	var out bytes.Buffer
	e := emf.New(&out)
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			for j := range 50 {
				e.Observe(&gateway.UsageRecord{TenantID: fmt.Sprint("t", i), Model: "m", RequestID: fmt.Sprint(j), Status: 200})
			}
			done <- struct{}{}
		}()
	}
	for range 8 {
		<-done
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if _, err := validateEMF([]byte(l)); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
	}
}

func BenchmarkObserve(b *testing.B) {
	e := emf.New(io.Discard)
	rec := &gateway.UsageRecord{RequestID: "req_1", TenantID: "acme", Model: "local-chat", Endpoint: "chat.completions",
		InputTokens: 120, OutputTokens: 40, Latency: 3 * time.Millisecond, Status: 200}
	b.ReportAllocs()
	for b.Loop() {
		e.Observe(rec)
	}
}

func TestCountFollowsTheSpecification(t *testing.T) {
	now := time.UnixMilli(1764064800123)
	var out bytes.Buffer
	e := emf.New(&out, emf.WithClock(func() time.Time { return now }))
	e.Count("central-sync", "CentralSyncFailures", 1, map[string]string{"Error": "central platform: 403", "Operation": "not this"})
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("want one line, got %q", out.String())
	}
	root, err := validateEMF(bytes.TrimSpace(out.Bytes()))
	if err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	var got struct {
		Operation, Error    string
		CentralSyncFailures int
		Aws                 struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	_ = json.Unmarshal(bytes.TrimSpace(out.Bytes()), &got)
	if got.Operation != "central-sync" || got.CentralSyncFailures != 1 || got.Error != "central platform: 403" || got.Aws.Timestamp != now.UnixMilli() {
		t.Errorf("record %+v (root %v)", got, root)
	}
	if d := got.Aws.CloudWatchMetrics; len(d) != 1 || fmt.Sprint(d[0].Dimensions) != "[[Operation]]" || fmt.Sprint(d[0].Metrics) != "[{CentralSyncFailures Count}]" {
		t.Errorf("directive %+v", d)
	}
}
