package faults

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	pt "github.com/plinth-ai/plinth/shared/provider/providertest"
)

// outcome is what a request must end in: answered by a model, or an explicit error.
type outcome struct {
	by     string // "primary" or "backup": the model that answers (the whole answer, or its end)
	status int    // else the HTTP status the client gets (200: an error event after some text)
	code   string // and the error's code
}

var (
	byPrimary = outcome{by: "primary"}
	byBackup  = outcome{by: "backup"}
)

func failed(status int, code string) outcome { return outcome{status: status, code: code} }

// class is one kind of upstream fault and what each route must make of it.
type class struct {
	name            string
	openai, bedrock *pt.Fault // nil: the fault does not exist for that provider
	once            bool      // only the primary's first request meets the fault
	streamFallback  outcome
	streamAlone     outcome
	wholeFallback   outcome
	wholeAlone      outcome
	wait            time.Duration // the router must have waited this long (Retry-After)
	midway          bool          // a stream fails after its first chunks: the backup continues it
	estimated       *bool         // whether a streamed answer's usage record is an estimate
}

func status(f pt.Failure) *pt.Fault            { return &pt.Fault{Kind: pt.FaultStatus, Failure: f} }
func bedrock(f pt.BedrockFailure) *pt.Fault    { return &pt.Fault{Kind: pt.FaultStatus, Bedrock: f} }
func kind(k pt.FaultKind, after int) *pt.Fault { return &pt.Fault{Kind: k, After: after} }
func boolp(b bool) *bool                       { return &b }

// everyWay expects o on every route.
func everyWay(c class, o outcome) class {
	c.streamFallback, c.streamAlone, c.wholeFallback, c.wholeAlone = o, o, o, o
	return c
}

// rescued expects the fallback to answer, and alone to fail (streams after some text).
func rescued(c class, streamAlone, wholeAlone outcome) class {
	c.streamFallback, c.wholeFallback = byBackup, byBackup
	c.streamAlone, c.wholeAlone = streamAlone, wholeAlone
	return c
}

var classes = []class{
	func() class {
		c := everyWay(class{name: "429 with Retry-After, once", openai: status(pt.RateLimited(time.Second)), once: true}, byPrimary)
		c.wait = time.Second
		return c
	}(),
	func() class {
		c := rescued(class{name: "429 with Retry-After", openai: status(pt.RateLimited(time.Second))},
			failed(429, "upstream_rate_limited"), failed(429, "upstream_rate_limited"))
		c.wait = time.Second
		return c
	}(),
	rescued(class{name: "429 without Retry-After", openai: status(pt.RateLimited(0)), bedrock: bedrock(pt.BedrockThrottling)},
		failed(429, "upstream_rate_limited"), failed(429, "upstream_rate_limited")),
	everyWay(class{name: "500 once", openai: status(pt.ServerError), bedrock: bedrock(pt.BedrockInternal), once: true}, byPrimary),
	rescued(class{name: "503 always", openai: status(pt.Overloaded), bedrock: bedrock(pt.BedrockUnavailable)},
		failed(503, "upstream_unavailable"), failed(503, "upstream_unavailable")),
	rescued(class{name: "connection reset", openai: kind(pt.FaultReset, 0), bedrock: kind(pt.FaultReset, 0)},
		failed(503, "upstream_unavailable"), failed(503, "upstream_unavailable")),
	rescued(class{name: "silent upstream", openai: kind(pt.FaultSilent, 0), bedrock: kind(pt.FaultSilent, 0)},
		failed(504, "upstream_timeout"), failed(504, "upstream_timeout")),
	rescued(class{name: "slow first token", openai: &pt.Fault{Kind: pt.FaultSlowStart, Delay: 5 * time.Second}, bedrock: &pt.Fault{Kind: pt.FaultSlowStart, Delay: 5 * time.Second}},
		failed(504, "upstream_timeout"), failed(504, "upstream_timeout")),
	func() class {
		c := rescued(class{name: "stream cut mid-way", openai: kind(pt.FaultCut, 3), bedrock: kind(pt.FaultCut, 3)},
			failed(200, "upstream_unavailable"), failed(503, "upstream_unavailable"))
		c.estimated, c.midway = boolp(true), true
		return c
	}(),
	func() class {
		c := rescued(class{name: "stream cut mid-way after a usage chunk", openai: &pt.Fault{Kind: pt.FaultCut, After: 3, Usage: true}},
			failed(200, "upstream_unavailable"), failed(503, "upstream_unavailable"))
		c.estimated, c.midway = boolp(false), true
		return c
	}(),
	rescued(class{name: "stalled stream", openai: kind(pt.FaultStall, 3), bedrock: kind(pt.FaultStall, 3), midway: true},
		failed(200, "upstream_timeout"), failed(504, "upstream_timeout")),
	rescued(class{name: "malformed SSE", openai: kind(pt.FaultMalformed, 3), bedrock: kind(pt.FaultMalformed, 3), midway: true},
		failed(200, "upstream_unavailable"), failed(503, "upstream_unavailable")),
	everyWay(class{name: "stream without [DONE]", openai: kind(pt.FaultNoDone, 0), bedrock: kind(pt.FaultNoDone, 0)}, byPrimary),
	rescued(class{name: "400 context length", openai: status(pt.ContextLength), bedrock: bedrock(pt.BedrockTooLong)},
		failed(400, "context_length_exceeded"), failed(400, "context_length_exceeded")),
	// A refusal of the content is the provider's verdict on the request: no fallback may
	// be used to get around it.
	everyWay(class{name: "400 content filter", openai: status(pt.ContentFiltered)}, failed(400, "content_filter")),
}

// TestEveryFaultEndsWell runs every fault class on every route, for the OpenAI-compatible
// fake and the Bedrock fake (Converse and ConverseStream) where the class exists.
func TestEveryFaultEndsWell(t *testing.T) {
	for _, prov := range []string{"openai", "bedrock"} {
		t.Run(prov, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			for _, c := range classes {
				fault := c.openai
				if prov == "bedrock" {
					fault = c.bedrock
				}
				if fault == nil {
					continue
				}
				for _, route := range []struct {
					name     string
					stream   bool
					fallback bool
					want     outcome
				}{
					{"stream with fallback", true, true, c.streamFallback},
					{"stream alone", true, false, c.streamAlone},
					{"whole with fallback", false, true, c.wholeFallback},
					{"whole alone", false, false, c.wholeAlone},
				} {
					t.Run(c.name+"/"+route.name, func(t *testing.T) {
						r.t = t
						primary, backup := r.pair(prov, *fault, c.once, route.fallback)
						var ex exchange
						if route.stream {
							ex = r.stream(primary)
						} else {
							ex = r.chat(primary)
						}
						r.check(ex, route.stream, route.want, map[string]string{"primary": primary, "backup": backup})
						if c.midway && route.stream && route.want.by == "backup" && (len(ex.models) == 0 || ex.models[0] != primary) {
							t.Errorf("chunk models %v: the answer should begin with %s and be continued by %s", ex.models, primary, backup)
						}
						if waits := r.waits.take(); c.wait > 0 && !slices.ContainsFunc(waits, func(d time.Duration) bool { return d >= c.wait }) {
							t.Errorf("the router waited %v, want a wait of the upstream's Retry-After %v", waits, c.wait)
						}
						if rec, ok := r.spent(ex.requestID); ok && c.estimated != nil && route.stream && rec.Estimated != *c.estimated {
							t.Errorf("usage record estimated=%v, want %v", rec.Estimated, *c.estimated)
						}
					})
				}
			}
		})
	}
}

// pair registers a primary model whose upstream meets fault (on its first request only
// when once) and, with fallback, a healthy backup it falls back to.
func (r *rig) pair(prov string, fault pt.Fault, once, fallback bool) (primary, backup string) {
	var up, down *upstream
	switch {
	case prov == "openai" && once:
		up, down = openaiUpstream(r.t, pt.WithFaults(fault)), openaiUpstream(r.t)
	case prov == "openai":
		up, down = openaiUpstream(r.t), openaiUpstream(r.t)
	case once:
		up, down = bedrockUpstream(r.t, pt.WithBedrockFaults(fault)), bedrockUpstream(r.t)
	default:
		up, down = bedrockUpstream(r.t), bedrockUpstream(r.t)
	}
	if !once {
		up.setFault(fault)
	}
	backup = r.register("backup", down.deployment)
	if fallback {
		return r.register("primary", up.deployment, backup), backup
	}
	return r.register("primary", up.deployment), backup
}

// check holds an exchange to its expected outcome and the usage record it left.
func (r *rig) check(ex exchange, stream bool, want outcome, models map[string]string) {
	t := r.t
	t.Helper()
	rec, ok := r.spent(ex.requestID)
	if !ok {
		t.Errorf("request %s left no usage record", ex.requestID)
	}
	if want.by != "" {
		model := models[want.by]
		if ex.err != nil {
			t.Fatalf("want an answer by %s, got %v (status %d)", want.by, ex.err, ex.status)
		}
		if ex.text != answer || ex.model != model || ex.finish != "stop" {
			t.Errorf("got %q by %q finish %q, want the whole answer by %s", ex.text, ex.model, ex.finish, model)
		}
		if stream && (!ex.done || ex.usage == nil || ex.models[len(ex.models)-1] != model) {
			t.Errorf("stream: [DONE] %v, usage chunk %v, chunk models %v", ex.done, ex.usage, ex.models)
		}
		if ok && (rec.Model != model || rec.Status != "ok" || rec.InputTokens <= 0 || rec.OutputTokens <= 0 || rec.CostUSD <= 0) {
			t.Errorf("usage record %+v, want %s's spend", rec, model)
		}
		return
	}
	if ex.err == nil || ex.status != want.status || ex.errCode != want.code {
		t.Fatalf("got status %d code %q err %v (text %q by %q), want %d %s", ex.status, ex.errCode, ex.err, ex.text, ex.model, want.status, want.code)
	}
	if want.status == http.StatusTooManyRequests && ex.retryAfter == "" {
		t.Errorf("a 429 without Retry-After")
	}
	if stream && want.status == http.StatusOK {
		// Some text went out, then an explicit error: never a stream that looks complete.
		if ex.done || ex.finish != "" || ex.text == "" || !strings.HasPrefix(answer, ex.text) {
			t.Errorf("cut stream: text %q finish %q [DONE] %v", ex.text, ex.finish, ex.done)
		}
		if ok && (rec.InputTokens <= 0 || rec.OutputTokens <= 0) {
			t.Errorf("usage record %+v: the text sent must be charged", rec)
		}
	}
	if ok && (rec.Status != "error" || rec.Model != models["primary"]) {
		t.Errorf("usage record %+v, want an error charged to %s", rec, models["primary"])
	}
}
