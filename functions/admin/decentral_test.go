package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/plinth-ai/plinth/shared/gateway/emf"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// The line of business's admin function role as the centre knows it: a SigV4
// credential whose principal the centre maps to a platform auditor.
var lobRole = sigv4.Credential{AccessKeyID: "AKIALOBADMIN000001", SecretAccessKey: "lob-admin-secret",
	PrincipalARN: "arn:aws:iam::222222222222:role/plinth-lob-AdminFunctionRole"}

// centre is a central Plinth on the local runtime verifying SigV4 in eu-west-1, as API
// Gateway's IAM authorization does for a centre on AWS.
type centre struct {
	*platform.Local
	srv *httptest.Server
}

func startCentre(t *testing.T) *centre {
	t.Helper()
	ctx := context.Background()
	l, err := platform.NewLocal(ctx, platform.Config{DataDir: t.TempDir(), SigV4: []sigv4.Credential{lobRole}, Region: "eu-west-1",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c := &centre{Local: l, srv: httptest.NewServer(l.Handler)}
	t.Cleanup(func() {
		c.srv.Close()
		_ = l.Close(context.Background())
	})
	c.approve(t, "org-chat")
	for _, step := range []struct{ method, path, body string }{
		{"POST", "/admin/guardrail-policies", `{"id":"org-floor","name":"organisation floor","wordPolicyConfig":{"wordsConfig":[{"text":"project nightingale"}]}}`},
		{"PUT", "/admin/guardrail-baseline", `{"policy":"org-floor"}`},
		{"POST", "/admin/iam-principals", `{"arn":"` + lobRole.PrincipalARN + `","role":"auditor"}`},
	} {
		if code := c.call(t, step.method, step.path, step.body); code/100 != 2 {
			t.Fatalf("centre %s %s: %d", step.method, step.path, code)
		}
	}
	return c
}

func (c *centre) approve(t *testing.T, id string) {
	t.Helper()
	m := registry.Model{ID: id, Kind: registry.KindChat, Owner: "ai-platform",
		Deployments: []registry.Deployment{{Provider: registry.ProviderLocal, Model: "local-chat"}}}
	if _, err := c.Registry.Create(context.Background(), m, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Registry.Review(context.Background(), id, "approve", "reviewer", "ok"); err != nil {
		t.Fatal(err)
	}
}

func (c *centre) call(t *testing.T, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// syncBuffer is a writer the function's log and metrics go to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the lines written so far and forgets them.
func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Split(strings.TrimSpace(s.b.String()), "\n")
	s.b.Reset()
	return out
}

// syncMetrics are the CentralSyncFailures records among lines, as "trigger=value".
func syncMetrics(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		var rec struct {
			Operation, Trigger  string
			CentralSyncFailures *int
		}
		if json.Unmarshal([]byte(l), &rec) != nil || rec.CentralSyncFailures == nil {
			continue
		}
		if rec.Operation != "central-sync" || !strings.Contains(l, `"Dimensions":[["Operation"]]`) {
			t.Errorf("metric record %s", l)
		}
		out = append(out, rec.Trigger+"="+string(rune('0'+*rec.CentralSyncFailures)))
	}
	return out
}

// decentralised configures the admin function as the CDK app does for a line of
// business (PLINTH_CENTRAL_URL, PLINTH_CENTRAL_AUTH=sigv4, PLINTH_CENTRAL_REGION), its
// credentials being cred's, its metrics written to metrics.
func decentralised(url string, cred sigv4.Credential, metrics io.Writer) func(*awsplatform.Config) {
	return func(cfg *awsplatform.Config) {
		cfg.Central = platform.CentralSettings{URL: url, Auth: platform.CentralAuthSigV4, Region: "eu-west-1"}
		cfg.AWS.Credentials = credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, "")
		cfg.Metrics = emf.New(metrics)
	}
}

// TestDecentralisedAdminFunction drives the admin function's Lambda handler in process
// (DynamoDB on minidyn, S3 on gofakes3, API Gateway proxy events) against a central
// Plinth that verifies SigV4: the cold start pulls, the schedule's event pulls again, a
// refused pull fails the invocation with an error log and a metric and changes nothing,
// and what came from the centre is read-only on the admin API.
func TestDecentralisedAdminFunction(t *testing.T) {
	ctx := context.Background()
	c := startCentre(t)
	out := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(out, nil))
	h, _, _ := newAdminWith(t, decentralised(c.srv.URL, lobRole, out), log)
	api := proxy(h)
	const admin = "arn:aws:iam::222222222222:user/lob-admin"

	// The cold start pulled: the centre's model is here, approved and read-only.
	if got := syncMetrics(t, out.lines()); strings.Join(got, " ") != "cold-start=0" {
		t.Errorf("metrics after the cold start: %v, want cold-start=0", got)
	}
	resp, err := api(ctx, adminEvent(t, "GET", "/admin/models/org-chat", "", admin))
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"status":"approved"`) || !strings.Contains(resp.Body, `"plinth:source":"central"`) {
		t.Fatalf("org-chat after the cold start: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	for _, w := range []struct{ method, path, body string }{
		{"PATCH", "/admin/models/org-chat", `{"description":"changed here"}`},
		{"PUT", "/admin/guardrail-baseline", `{"policy":""}`},
	} {
		resp, err := api(ctx, adminEvent(t, w.method, w.path, w.body, admin))
		if err != nil || resp.StatusCode != 403 || !strings.Contains(resp.Body, `"permission_denied"`) {
			t.Errorf("%s %s on the line of business: %v %d %s, want 403 permission_denied", w.method, w.path, err, resp.StatusCode, resp.Body)
		}
	}

	// The centre approves another model; the schedule's event brings it.
	c.approve(t, "org-chat-2")
	res, err := h(ctx, json.RawMessage(`{"plinth":"central-sync"}`))
	if err != nil {
		t.Fatalf("scheduled pull: %v", err)
	}
	if b, _ := json.Marshal(res); !strings.Contains(string(b), `"created":["org-chat-2"]`) {
		t.Errorf("scheduled pull answered %s", b)
	}
	if got := syncMetrics(t, out.lines()); strings.Join(got, " ") != "schedule=0" {
		t.Errorf("metrics after the scheduled pull: %v", got)
	}
	resp, err = api(ctx, adminEvent(t, "GET", "/admin/models/org-chat-2", "", admin))
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"status":"approved"`) {
		t.Fatalf("org-chat-2 after the scheduled pull: %v %d %s", err, resp.StatusCode, resp.Body)
	}

	// The centre stops trusting the role: the next scheduled pull is refused, the
	// invocation fails, an error is logged and counted, and the last state stays.
	c.approve(t, "org-chat-3")
	if code := c.call(t, "DELETE", "/admin/iam-principals/"+lobRole.PrincipalARN, ""); code != 204 {
		t.Fatalf("unmap: %d", code)
	}
	_, err = h(ctx, json.RawMessage(`{"plinth":"central-sync"}`))
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("refused scheduled pull: %v, want the invocation to fail with the centre's 403", err)
	}
	lines := out.lines()
	if got := syncMetrics(t, lines); strings.Join(got, " ") != "schedule=1" {
		t.Errorf("metrics after a refused pull: %v, want schedule=1", got)
	}
	if !strings.Contains(strings.Join(lines, "\n"), `"level":"ERROR","msg":"central sync failed`) {
		t.Errorf("no error logged for the refused pull:\n%s", strings.Join(lines, "\n"))
	}
	for _, id := range []string{"org-chat", "org-chat-2"} {
		resp, err := api(ctx, adminEvent(t, "GET", "/admin/models/"+id, "", admin))
		if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"status":"approved"`) {
			t.Errorf("%s after a refused pull: %v %d %s", id, err, resp.StatusCode, resp.Body)
		}
	}
	if resp, _ := api(ctx, adminEvent(t, "GET", "/admin/models/org-chat-3", "", admin)); resp.StatusCode != 404 {
		t.Errorf("org-chat-3 arrived through a refused pull: %d", resp.StatusCode)
	}
	if resp, _ := api(ctx, adminEvent(t, "PATCH", "/admin/models/org-chat-2", `{"description":"x"}`, admin)); resp.StatusCode != 403 {
		t.Errorf("org-chat-2 writable after a refused pull: %d", resp.StatusCode)
	}
}

// TestDecentralisedColdStartRefused: a cold start whose pull is refused (a wrong
// secret) still starts the admin API, with an error logged and the failure counted.
func TestDecentralisedColdStartRefused(t *testing.T) {
	c := startCentre(t)
	wrong := lobRole
	wrong.SecretAccessKey = "not-the-secret"
	out := &syncBuffer{}
	h, _, _ := newAdminWith(t, decentralised(c.srv.URL, wrong, out), slog.New(slog.NewJSONHandler(out, nil)))
	lines := out.lines()
	if got := syncMetrics(t, lines); strings.Join(got, " ") != "cold-start=1" {
		t.Errorf("metrics after a refused cold-start pull: %v, want cold-start=1", got)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "invalid_signature") {
		t.Errorf("the refusal's reason is not logged:\n%s", strings.Join(lines, "\n"))
	}
	resp, err := proxy(h)(context.Background(), adminEvent(t, "GET", "/admin/models/org-chat", "", "arn:aws:iam::222222222222:user/lob-admin"))
	if err != nil || resp.StatusCode != 404 {
		t.Errorf("org-chat on a platform whose pull was refused: %v %d %s", err, resp.StatusCode, resp.Body)
	}
}

// TestSyncEventNeedsACentre: the schedule's event on a platform that is not
// decentralised is an error, and an event the function does not know is refused.
func TestSyncEventNeedsACentre(t *testing.T) {
	h, _, _ := newAdminWith(t, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := h(context.Background(), json.RawMessage(`{"plinth":"central-sync"}`)); !errors.Is(err, platform.ErrMissingConfig) {
		t.Errorf("sync event without a centre: %v, want ErrMissingConfig", err)
	}
	if _, err := h(context.Background(), json.RawMessage(`{"plinth":"reindex"}`)); err == nil || !strings.Contains(err.Error(), "unknown event") {
		t.Errorf("unknown event: %v", err)
	}
}
