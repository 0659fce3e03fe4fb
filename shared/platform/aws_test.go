package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/registry"
)

// fakeSecrets is an in-memory Secrets Manager.
type fakeSecrets struct {
	values map[string]string
	fail   atomic.Bool
	calls  atomic.Int64
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls.Add(1)
	if f.fail.Load() {
		return nil, errors.New("service unavailable")
	}
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, errors.New("ResourceNotFoundException")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

const (
	testProviderARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:plinth/provider-keys-AbCdEf"
	testRawARN      = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:openai-raw-Xy"
	testJSONARN     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:azure-json-Zz"
)

func TestSecretsResolver(t *testing.T) {
	t.Setenv("PLINTH_TEST_KEY", "sk-from-env")
	fake := &fakeSecrets{values: map[string]string{
		testProviderARN: `{"openai-prod":"sk-prod","azure-eu":"az-key"}`,
		testRawARN:      "sk-raw\n",
		testJSONARN:     `{"api_key":"az-json","endpoint":"https://x"}`,
	}}
	r := NewSecretsResolver(func() SecretsAPI { return fake }, testProviderARN)
	cases := []struct {
		name string
		d    registry.Deployment
		want string
		err  error
	}{
		{"key in the registry entry", registry.Deployment{ID: "d", APIKey: "sk-inline", APIKeySecret: "openai-prod"}, "sk-inline", nil},
		{"environment variable", registry.Deployment{ID: "d", APIKeyEnv: "PLINTH_TEST_KEY"}, "sk-from-env", nil},
		{"no key at all", registry.Deployment{ID: "d"}, "", nil},
		{"entry of the provider secret", registry.Deployment{ID: "d", APIKeySecret: "azure-eu"}, "az-key", nil},
		{"secret ARN holding the key", registry.Deployment{ID: "d", APIKeySecret: testRawARN}, "sk-raw", nil},
		{"secret ARN holding JSON", registry.Deployment{ID: "d", APIKeySecret: testJSONARN}, "az-json", nil},
		{"unknown entry", registry.Deployment{ID: "d", APIKeySecret: "nope"}, "", ErrSecretNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Resolve(context.Background(), tc.d)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
	// Three secrets were read, each once, though the provider secret served three cases.
	if n := fake.calls.Load(); n != 3 {
		t.Errorf("GetSecretValue calls %d, want 3", n)
	}

	t.Run("no provider secret configured", func(t *testing.T) {
		r := NewSecretsResolver(func() SecretsAPI { return fake }, "")
		if _, err := r.Resolve(context.Background(), registry.Deployment{ID: "d", APIKeySecret: "openai-prod"}); !errors.Is(err, ErrMissingConfig) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestSecretsResolverRefreshesAndSurvivesOutages(t *testing.T) {
	fake := &fakeSecrets{values: map[string]string{testProviderARN: `{"k":"v1"}`}}
	now := time.Unix(1764064800, 0)
	r := NewSecretsResolver(func() SecretsAPI { return fake }, testProviderARN)
	r.now = func() time.Time { return now }
	d := registry.Deployment{ID: "d", APIKeySecret: "k"}
	steps := []struct {
		advance time.Duration
		value   string
		fail    bool
		want    string
		calls   int64
	}{
		{0, `{"k":"v1"}`, false, "v1", 1},
		{time.Minute, `{"k":"v2"}`, false, "v1", 1},                   // cached
		{DefaultSecretTTL, `{"k":"v2"}`, false, "v2", 2},              // expired: rotated value
		{DefaultSecretTTL + time.Second, `{"k":"v3"}`, true, "v2", 3}, // outage: last good value
	}
	for i, s := range steps {
		t.Run(fmt.Sprint("step ", i), func(t *testing.T) {
			now = now.Add(s.advance)
			fake.values[testProviderARN] = s.value
			fake.fail.Store(s.fail)
			got, err := r.Resolve(context.Background(), d)
			if err != nil || got != s.want || fake.calls.Load() != s.calls {
				t.Fatalf("got %q %v after %d calls, want %q after %d", got, err, fake.calls.Load(), s.want, s.calls)
			}
		})
	}
}

func TestTaskHandlerNamesErrors(t *testing.T) {
	tasks := map[string]TaskFunc{
		"EchoFunctionArn": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil },
		"PoisonFunctionArn": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, &flow.TaskError{Type: "DocumentError", Cause: "unsupported file type"}
		},
		"BrokenFunctionArn": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, fmt.Errorf("load dataset: %w", errors.New("no such key"))
		},
	}
	if _, err := TaskHandler(tasks, "MissingFunctionArn", nil); !errors.Is(err, ErrUnknownTask) {
		t.Fatalf("unknown task: %v", err)
	}
	cases := []struct {
		task, wantType, wantMessage, wantOut string
	}{
		{"EchoFunctionArn", "", "", `{"a":1}`},
		{"PoisonFunctionArn", "DocumentError", "unsupported file type", ""},
		{"BrokenFunctionArn", "TaskFailed", "load dataset: no such key", ""},
	}
	for _, tc := range cases {
		t.Run(tc.task, func(t *testing.T) {
			flushed := 0
			h, err := TaskHandler(tasks, tc.task, func(context.Context) { flushed++ })
			if err != nil {
				t.Fatal(err)
			}
			// Through the runtime library's handler, as Lambda invokes it.
			out, err := lambda.NewHandler(h).Invoke(context.Background(), []byte(`{"a":1}`))
			if flushed != 1 {
				t.Errorf("done ran %d times", flushed)
			}
			if tc.wantType == "" {
				if err != nil || string(out) != tc.wantOut {
					t.Fatalf("out %s err %v", out, err)
				}
				return
			}
			var ie messages.InvokeResponse_Error
			if !errors.As(err, &ie) || ie.Type != tc.wantType || ie.Message != tc.wantMessage {
				t.Fatalf("error %#v, want type %s", err, tc.wantType)
			}
		})
	}
}

func TestStreamingHandlerHeadersAndFailures(t *testing.T) {
	h := StreamingHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cookies":
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			w.Header().Add("Vary", "Accept")
			w.Header().Add("Vary", "Authorization")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "made")
		case "/empty":
		case "/panic":
			panic("boom")
		}
	}), nil)
	cases := []struct {
		path       string
		status     int
		body       string
		wantErr    bool
		checkExtra func(t *testing.T, meta map[string]any)
	}{
		{"/cookies", 201, "made", false, func(t *testing.T, meta map[string]any) {
			if fmt.Sprint(meta["cookies"]) != "[a=1 b=2]" || fmt.Sprint(meta["multiValueHeaders"]) != "map[Vary:[Accept Authorization]]" ||
				fmt.Sprint(meta["headers"]) != "map[Content-Type:text/plain]" {
				t.Errorf("prelude %v", meta)
			}
		}},
		{"/empty", 200, "", false, nil},
		{"/panic", 500, "", true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			payload, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: tc.path, RequestContext: events.APIGatewayProxyRequestContext{DomainName: "api.example.com"}})
			out, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if tc.wantErr {
				return
			}
			meta, body, ok := bytes.Cut(out, make([]byte, 8))
			if !ok {
				t.Fatalf("no delimiter: %q", out)
			}
			var m map[string]any
			if err := json.Unmarshal(meta, &m); err != nil {
				t.Fatal(err)
			}
			if m["statusCode"] != float64(tc.status) || string(body) != tc.body {
				t.Fatalf("prelude %s body %q", meta, body)
			}
			if tc.checkExtra != nil {
				tc.checkExtra(t, m)
			}
		})
	}
}

func TestAWSBackendsNeedATable(t *testing.T) {
	_, err := AWSBackends(context.Background(), AWSConfig{AWS: &aws.Config{Region: "eu-west-1"}})
	if !errors.Is(err, ErrMissingConfig) || !strings.Contains(err.Error(), EnvTable) {
		t.Fatalf("err %v", err)
	}
}

func TestScheduleName(t *testing.T) {
	long := strings.Repeat("x", 80)
	cases := []struct{ tenant, suite string }{
		{"acme", "nightly"},
		{"acme", "night ly"},
		{"acme", "night_ly"},
		{long, long + "a"},
		{long, long + "b"},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.tenant[:4]+"/"+tc.suite[:4], func(t *testing.T) {
			n := ScheduleName(tc.tenant, tc.suite)
			if len(n) > 64 || !strings.HasPrefix(n, "eval-") || strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
				t.Fatalf("name %q is not a valid Scheduler name", n)
			}
			if seen[n] {
				t.Fatalf("name %q is not unique", n)
			}
			seen[n] = true
			if n != ScheduleName(tc.tenant, tc.suite) {
				t.Fatal("name is not stable")
			}
		})
	}
}
