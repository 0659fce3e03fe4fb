package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/gateway/emf"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/observe"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
	"github.com/plinth-ai/plinth/shared/usage"
	"github.com/plinth-ai/plinth/test/dynalite"
)

// loadEvent decodes a sample event from the repository's events/ folder.
func loadEvent(t *testing.T, name string) events.APIGatewayProxyRequest {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
	b, err := os.ReadFile(filepath.Join(dir, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// secretsServer speaks Secrets Manager's JSON protocol for GetSecretValue.
func secretsServer(t *testing.T, secrets map[string]string, calls *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
			http.Error(w, "unexpected "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
			return
		}
		calls.Add(1)
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := secrets[in.SecretId]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": "plinth/provider-keys", "SecretString": v, "VersionId": "v1"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// gatedUpstream is an OpenAI-compatible streaming upstream that sends its first chunk,
// then holds the rest until release is closed.
type gatedUpstream struct {
	release chan struct{}
	auth    atomic.Value
	body    atomic.Value
}

func (u *gatedUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.auth.Store(r.Header.Get("Authorization"))
	b, _ := io.ReadAll(r.Body)
	u.body.Store(string(b))
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := func(delta, finish string) {
		fr := "null"
		if finish != "" {
			fr = `"` + finish + `"`
		}
		fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-up\",\"object\":\"chat.completion.chunk\",\"created\":1764064800,\"model\":\"up-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":%s}]}\n\n", delta, fr)
		w.(http.Flusher).Flush()
	}
	chunk("Hel", "")
	select {
	case <-u.release:
	case <-r.Context().Done():
		return
	}
	chunk("lo", "")
	chunk("", "stop")
	fmt.Fprint(w, "data: {\"id\":\"chatcmpl-up\",\"object\":\"chat.completion.chunk\",\"created\":1764064800,\"model\":\"up-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}\n\n")
	fmt.Fprint(w, "data: [DONE]\n\n")
}

type fixture struct {
	handler func(context.Context, events.APIGatewayProxyRequest) (*events.APIGatewayProxyStreamingResponse, error)
	tenants *tenant.Service
	usage   *usage.Service
	key     *tenant.Key
	// guardedKey belongs to a tenant with a guardrail policy.
	guardedKey *tenant.Key
	up         *gatedUpstream
	metrics    *syncBuffer
	secrets    atomic.Int64
}

// syncBuffer is a goroutine-safe buffer for metric lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newFixture runs the function's own newHandler against DynamoDB (minidyn's server,
// through the real SDK client), Secrets Manager (httptest, its JSON protocol) and an
// OpenAI-compatible upstream, with the tenant "acme" of the sample events and one model
// "gpt-up" whose key is an entry of the provider secret.
func newFixture(t *testing.T, opts ...func(*awsplatform.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	db := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(db.Close)
	ddb := dynalite.Client(db.URL)
	if err := dynamostore.CreateTable(ctx, ddb, "plinth"); err != nil {
		t.Fatal(err)
	}
	st, err := dynamostore.New(ddb, "plinth")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{up: &gatedUpstream{release: make(chan struct{})}, metrics: &syncBuffer{}}
	// HTTPS, as OpenAI-compatible providers are reached in AWS (plain-http upstreams take
	// the provider's lean HTTP/1.1 client instead of the shared, traced one).
	up := httptest.NewTLSServer(f.up)
	t.Cleanup(up.Close)
	t.Cleanup(func() {
		select {
		case <-f.up.release:
		default:
			close(f.up.release)
		}
	})
	const providerSecret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:plinth/provider-keys-AbCdEf"
	sm := secretsServer(t, map[string]string{providerSecret: `{"openai-test":"sk-test-123"}`}, &f.secrets)

	reg := registry.NewService(st)
	if err := reg.SeedBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Create(ctx, registry.Model{ID: "gpt-up", Kind: registry.KindChat,
		Deployments: []registry.Deployment{{Provider: "openai", BaseURL: up.URL + "/v1", Model: "up-1", APIKeySecret: "openai-test"}},
		Prices:      registry.Prices{InputPerMillion: 1, OutputPerMillion: 2}}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Review(ctx, "gpt-up", "approve", "test", ""); err != nil {
		t.Fatal(err)
	}
	f.tenants = tenant.NewService(st)
	if _, err := f.tenants.CreateTenant(ctx, tenant.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	// globex's guardrail policy anonymizes e-mail addresses.
	pol, err := guardrail.NewRepository(st).Create(ctx, guardrail.Policy{Name: "pii", SensitiveInformationPolicyConfig: &guardrail.SensitiveInformationPolicyConfig{
		PiiEntitiesConfig: []guardrail.PiiEntityConfig{{Type: "EMAIL", Action: "ANONYMIZE"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.tenants.CreateTenant(ctx, tenant.Tenant{ID: "globex", Name: "Globex", GuardrailPolicy: pol.ID}); err != nil {
		t.Fatal(err)
	}
	if f.guardedKey, _, err = f.tenants.CreateKey(ctx, "globex", tenant.KeyOptions{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	if f.key, _, err = f.tenants.CreateKey(ctx, "acme", tenant.KeyOptions{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	f.usage = usage.NewService(st, f.tenants)

	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), BaseEndpoint: aws.String(sm.URL)}
	cfg := awsplatform.Config{Table: "plinth", ProviderSecretARN: providerSecret, AWS: &sdk, DynamoDB: ddb,
		Metrics: emf.New(f.metrics), UpstreamHTTPClient: up.Client()}
	for _, o := range opts {
		o(&cfg)
	}
	f.handler, err = newHandler(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// event returns a sample event as the key authorizer would pass it for the fixture's key.
func (f *fixture) event(t *testing.T, name string) events.APIGatewayProxyRequest {
	return f.eventFor(t, name, f.key)
}

// eventFor returns a sample event authorized for key.
func (f *fixture) eventFor(t *testing.T, name string, key *tenant.Key) events.APIGatewayProxyRequest {
	ev := loadEvent(t, name)
	// The authorizer's context as shared/tenant/authorizer produces it (space-separated
	// scopes), in place of the sample's placeholder values.
	ev.RequestContext.Authorizer = authorizer.ContextFor(auth.Principal{TenantID: key.TenantID, KeyID: key.ID, Scopes: key.Scopes})
	ev.RequestContext.Authorizer["principalId"] = key.ID
	ev.RequestContext.Authorizer["integrationLatency"] = 12
	return ev
}

// prelude is the metadata API Gateway reads before the payload.
type prelude struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
}

// splitStream parses the streaming response format: JSON prelude, 8 NUL bytes, payload.
func splitStream(t *testing.T, raw []byte) (prelude, []byte) {
	t.Helper()
	meta, body, ok := bytes.Cut(raw, make([]byte, 8))
	if !ok {
		t.Fatalf("no 8-NUL delimiter in %q", raw)
	}
	var p prelude
	if err := json.Unmarshal(meta, &p); err != nil {
		t.Fatalf("prelude %q: %v", meta, err)
	}
	return p, body
}

// invoke runs the handler the way the Lambda runtime does (lambda.NewHandler: JSON
// event in, the response reader's bytes out).
func (f *fixture) invoke(t *testing.T, ev events.APIGatewayProxyRequest) (prelude, []byte) {
	t.Helper()
	payload, _ := json.Marshal(ev)
	out, err := lambda.NewHandler(f.handler).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	return splitStream(t, out)
}

func TestBufferedRoutesAnswerInTheStreamingFormat(t *testing.T) {
	f := newFixture(t)
	close(f.up.release)
	unauth := func(name, path string) events.APIGatewayProxyRequest {
		ev := loadEvent(t, name)
		ev.Path, ev.Resource, ev.RequestContext.Authorizer = path, path, nil
		delete(ev.Headers, "Authorization")
		delete(ev.MultiValueHeaders, "Authorization")
		return ev
	}
	cases := []struct {
		name   string
		ev     events.APIGatewayProxyRequest
		status int
		check  func(t *testing.T, p prelude, body []byte)
	}{
		{"chat completion from the sample event", f.event(t, "apigw-chat-completions.json"), 200, func(t *testing.T, p prelude, body []byte) {
			var resp struct {
				Object  string
				Model   string
				Choices []struct{ Message struct{ Content string } }
				Usage   struct {
					TotalTokens int `json:"total_tokens"`
				}
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Object != "chat.completion" || resp.Model != "local-chat" || len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" || resp.Usage.TotalTokens == 0 {
				t.Errorf("body %s", body)
			}
			if !strings.HasPrefix(p.Headers["Content-Type"], "application/json") {
				t.Errorf("headers %v", p.Headers)
			}
		}},
		{"model list from the sample event", f.event(t, "apigw-models.json"), 200, func(t *testing.T, p prelude, body []byte) {
			var list struct{ Data []struct{ ID string } }
			_ = json.Unmarshal(body, &list)
			ids := map[string]bool{}
			for _, m := range list.Data {
				ids[m.ID] = true
			}
			if !ids["local-chat"] || !ids["local-embed"] || !ids["gpt-up"] {
				t.Errorf("models %s", body)
			}
		}},
		{"health without credentials", unauth("apigw-models.json", "/healthz"), 200, func(t *testing.T, p prelude, body []byte) {
			if !bytes.Contains(body, []byte(`"ok"`)) {
				t.Errorf("body %s", body)
			}
		}},
		{"OpenAPI document without credentials", unauth("apigw-models.json", "/openapi.json"), 200, func(t *testing.T, p prelude, body []byte) {
			var doc struct{ OpenAPI string }
			if json.Unmarshal(body, &doc) != nil || doc.OpenAPI == "" {
				t.Errorf("body %.200s", body)
			}
		}},
		{"no authorizer context and no key", unauth("apigw-models.json", "/v1/models"), 401, func(t *testing.T, p prelude, body []byte) {
			var e struct{ Error struct{ Code, Type string } }
			_ = json.Unmarshal(body, &e)
			if e.Error.Code != "invalid_api_key" {
				t.Errorf("body %s", body)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, body := f.invoke(t, tc.ev)
			if p.StatusCode != tc.status {
				t.Fatalf("status %d: %s", p.StatusCode, body)
			}
			want := tc.ev.RequestContext.RequestID
			if p.Headers["X-Request-Id"] != want {
				t.Errorf("X-Request-Id %q, want API Gateway's %q", p.Headers["X-Request-Id"], want)
			}
			tc.check(t, p, body)
		})
	}
}

// TestChatStreamFlowsAsProduced reads the stream while the upstream still holds its
// second chunk: the first delta must already have reached the client, so SSE is not
// buffered anywhere between the gateway and the runtime.
func TestChatStreamFlowsAsProduced(t *testing.T) {
	f := newFixture(t)
	ev := f.event(t, "apigw-chat-completions.json")
	ev.Body = `{"model":"gpt-up","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello"}]}`
	ev.Headers["X-Request-Id"] = "req_stream_test_1"
	ev.MultiValueHeaders["X-Request-Id"] = []string{"req_stream_test_1"}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := f.handler(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp)
	meta, err := r.ReadBytes(0)
	if err != nil {
		t.Fatal(err)
	}
	var p prelude
	if err := json.Unmarshal(meta[:len(meta)-1], &p); err != nil {
		t.Fatalf("prelude %q: %v", meta, err)
	}
	nul := make([]byte, 7)
	if _, err := io.ReadFull(r, nul); err != nil || !bytes.Equal(nul, make([]byte, 7)) {
		t.Fatalf("delimiter %q %v", nul, err)
	}
	if p.StatusCode != 200 || !strings.HasPrefix(p.Headers["Content-Type"], "text/event-stream") || p.Headers["X-Request-Id"] != "req_stream_test_1" {
		t.Fatalf("prelude %+v", p)
	}

	var early strings.Builder
	for !strings.Contains(early.String(), `"Hel"`) {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the first delta: %v (%q)", err, early.String())
		}
		early.WriteString(line)
	}
	if strings.Contains(early.String(), `"lo"`) || strings.Contains(early.String(), "[DONE]") {
		t.Fatalf("later chunks arrived before the upstream produced them: %s", early.String())
	}
	close(f.up.release)
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	all := early.String() + string(rest)
	for _, want := range []string{`"lo"`, `"finish_reason":"stop"`, `"total_tokens":9`, "data: [DONE]\n\n"} {
		if !strings.Contains(all, want) {
			t.Errorf("stream lacks %s:\n%s", want, all)
		}
	}
	if got, _ := f.up.body.Load().(string); !strings.Contains(got, "Say hello") {
		t.Errorf("upstream request %s", got)
	}
	if got := f.up.auth.Load(); got != "Bearer sk-test-123" {
		t.Errorf("upstream saw Authorization %v, want the key from the provider secret", got)
	}

	// The usage record was flushed before the stream ended: it is readable right away.
	recs, err := f.usage.Records(context.Background(), "acme", time.Now().UTC(), 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rec := range recs {
		if rec.RequestID == "req_stream_test_1" {
			found = true
			if rec.InputTokens != 7 || rec.OutputTokens != 2 || !rec.Streamed {
				t.Errorf("usage record %+v", rec)
			}
		}
	}
	if !found {
		t.Errorf("no usage record for the stream in %+v", recs)
	}
	// One EMF line for the request, with the tenant and model dimensions.
	var emf map[string]any
	for _, line := range strings.Split(strings.TrimSpace(f.metrics.String()), "\n") {
		if strings.Contains(line, "req_stream_test_1") {
			_ = json.Unmarshal([]byte(line), &emf)
		}
	}
	if emf["Tenant"] != "acme" || emf["Model"] != "gpt-up" || emf["Tokens"] != float64(9) || emf["Requests"] != float64(1) || emf["_aws"] == nil {
		t.Errorf("EMF record %v in %s", emf, f.metrics.String())
	}
}

// TestProviderSecretIsReadOnce checks the Secrets Manager cache: many requests for a
// model, one GetSecretValue.
func TestProviderSecretIsReadOnce(t *testing.T) {
	f := newFixture(t)
	close(f.up.release)
	for i := range 3 {
		ev := f.event(t, "apigw-chat-completions.json")
		ev.Body = `{"model":"gpt-up","stream":true,"messages":[{"role":"user","content":"hi ` + fmt.Sprint(i) + `"}]}`
		p, body := f.invoke(t, ev)
		if p.StatusCode != 200 || !bytes.Contains(body, []byte("[DONE]")) {
			t.Fatalf("%d %s", p.StatusCode, body)
		}
	}
	if n := f.secrets.Load(); n != 1 {
		t.Fatalf("GetSecretValue called %d times", n)
	}
}

// TestTracedInvocation checks the X-Ray wiring: in a sampled invocation the provider
// call and the Secrets Manager call become subsegments of the function's segment.
func TestTracedInvocation(t *testing.T) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	f := newFixture(t, func(c *awsplatform.Config) {
		c.Tracer = observe.NewTracer(observe.WithDaemonAddress(udp.LocalAddr().String()))
	})
	close(f.up.release)
	ev := f.event(t, "apigw-chat-completions.json")
	ev.Body = `{"model":"gpt-up","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	const header = "Root=1-6744a0b1-2b1d7f0c4f5e3a2b1c0d9e8f;Parent=53995c3f42cd8ad8;Sampled=1"
	payload, _ := json.Marshal(ev)
	out, err := lambda.NewHandler(f.handler).Invoke(observe.WithLambdaTraceHeader(context.Background(), header), payload)
	if err != nil || !bytes.Contains(out, []byte("[DONE]")) {
		t.Fatalf("%v %s", err, out)
	}
	names := map[string]map[string]any{}
	buf := make([]byte, 65536)
	for len(names) < 2 {
		_ = udp.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := udp.Read(buf)
		if err != nil {
			t.Fatalf("subsegments so far %v: %v", names, err)
		}
		_, body, _ := bytes.Cut(buf[:n], []byte("\n"))
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc["trace_id"] != "1-6744a0b1-2b1d7f0c4f5e3a2b1c0d9e8f" || doc["parent_id"] != "53995c3f42cd8ad8" {
			t.Fatalf("subsegment outside the invocation's trace: %s", body)
		}
		names[doc["namespace"].(string)+":"+doc["name"].(string)] = doc
	}
	sm, ok := names["aws:Secrets Manager"]
	if !ok {
		t.Fatalf("no Secrets Manager subsegment in %v", names)
	}
	if op := sm["aws"].(map[string]any)["operation"]; op != "GetSecretValue" {
		t.Errorf("operation %v", op)
	}
	for k, doc := range names {
		if strings.HasPrefix(k, "remote:127.0.0.1:") {
			if doc["http"].(map[string]any)["request"].(map[string]any)["method"] != "POST" {
				t.Errorf("provider subsegment %v", doc)
			}
			return
		}
	}
	t.Fatalf("no provider subsegment in %v", names)
}

// TestTenantGuardrailPolicyApplies checks the gateway enforces the tenant's guardrail
// policy inline: the e-mail address never reaches the provider.
func TestTenantGuardrailPolicyApplies(t *testing.T) {
	f := newFixture(t)
	close(f.up.release)
	ev := f.eventFor(t, "apigw-chat-completions.json", f.guardedKey)
	ev.Body = `{"model":"gpt-up","stream":true,"messages":[{"role":"user","content":"Write to jane.doe@example.com about the refund"}]}`
	p, body := f.invoke(t, ev)
	if p.StatusCode != 200 || !bytes.Contains(body, []byte("[DONE]")) {
		t.Fatalf("%d %s", p.StatusCode, body)
	}
	got, _ := f.up.body.Load().(string)
	if strings.Contains(got, "jane.doe@example.com") || !strings.Contains(got, "{EMAIL}") {
		t.Fatalf("upstream saw %s", got)
	}
}
