package parity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
	"github.com/plinth-ai/plinth/shared/provider/router"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// call is one HTTP request of the suite, with the caller's credential: an admin, a
// tenant's API key, or none.
type call struct {
	Method, Path string
	Body         []byte
	ContentType  string
	Key          string
	Admin        bool
	// IAM signs the call as this IAM principal (an assumed-role session of iamCallers)
	// instead: SigV4 locally, the IAM API in AWS.
	IAM    string
	Header http.Header
}

// iamCallers are the IAM principals calls may be signed as, with the credentials the
// local platform verifies them by (PLINTH_SIGV4_CREDENTIALS); in AWS, IAM verifies them.
var iamCallers = map[string]sigv4.Credential{
	appSession:      {AccessKeyID: "AKIAPARITYAPP", SecretAccessKey: "parity-app-secret", PrincipalARN: appSession},
	strangerSession: {AccessKeyID: "AKIAPARITYSTRANGER", SecretAccessKey: "parity-stranger-secret", PrincipalARN: strangerSession},
}

const (
	appRole         = "arn:aws:iam::123456789012:role/plinth-app"
	appSession      = "arn:aws:sts::123456789012:assumed-role/plinth-app/app-1"
	strangerSession = "arn:aws:sts::123456789012:assumed-role/stranger/s-1"
)

// reply is a whole HTTP response.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) String() string { return http.StatusText(r.Status) + " " + string(r.Body) }

// decode unmarshals the body into v.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%d %s: %v", r.Status, r.Body, err)
	}
}

// errorCode is the OpenAI error body's code, or "".
func (r reply) errorCode() string {
	var e struct {
		Error struct {
			Code *string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &e) != nil || e.Error.Code == nil {
		return ""
	}
	return *e.Error.Code
}

// runtime is one way to run the platform.
type runtime interface {
	name() string
	do(t *testing.T, c call) reply
}

// env is what both runtimes share: the fake Bedrock Runtime and the SDK configuration
// pointed at it.
type env struct {
	bedrock *providertest.BedrockServer
	sdk     aws.Config
	// settings are environment variables both runtimes' functions read beyond the
	// backends' names (the MCP gateway's OAuth settings); nil has none.
	settings map[string]string
}

// getenv reads the env's settings as os.Getenv reads a function's environment.
func (e *env) getenv(k string) string { return e.settings[k] }

func newEnv(t *testing.T) *env {
	t.Helper()
	br := providertest.NewBedrockServer(providertest.WithBedrockReply("Hello from Bedrock."))
	t.Cleanup(br.Close)
	sdk := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(br.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDPARITY", "parity-secret", "")}
	return &env{bedrock: br, sdk: sdk}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runtimes are the two runtimes over one env each (each gets its own data).
func runtimes(t *testing.T) []func(t *testing.T) runtime {
	return []func(t *testing.T) runtime{
		func(t *testing.T) runtime { return newLocal(t, newEnv(t)) },
		func(t *testing.T) runtime { return newAWS(t, newEnv(t)) },
	}
}

// onBoth runs f on the local platform and on the AWS handlers.
func onBoth(t *testing.T, f func(t *testing.T, rt runtime)) {
	for _, mk := range runtimes(t) {
		rt := mk(t)
		t.Run(rt.name(), func(t *testing.T) { f(t, rt) })
	}
}

// local is the local platform's handler, as functions/local serves it.
type local struct {
	l *platform.Local
}

const (
	localAdminKey = "adm-parity"
	localRegion   = "eu-west-1"
)

func newLocal(t *testing.T, e *env) *local {
	t.Helper()
	ctx := context.Background()
	var creds []sigv4.Credential
	for _, c := range iamCallers {
		creds = append(creds, c)
	}
	// functions/local reads the MCP OAuth settings with the same function.
	oauth, err := accesstoken.ConfigFromEnv(e.getenv, "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := platform.NewLocal(ctx, platform.Config{DataDir: t.TempDir(), AdminKey: localAdminKey, Logger: quiet(),
		DeploymentOptions: []router.BuildOption{router.WithAWSConfig(e.sdk)}, SigV4: creds, Region: localRegion, MCPOAuth: oauth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return &local{l: l}
}

func (l *local) name() string { return "local" }

func (l *local) do(t *testing.T, c call) reply {
	t.Helper()
	r := httptest.NewRequest(c.Method, c.Path, bytes.NewReader(c.Body))
	for k, vs := range c.Header {
		r.Header[k] = vs
	}
	if c.ContentType != "" {
		r.Header.Set("Content-Type", c.ContentType)
	}
	switch {
	case c.Admin:
		r.Header.Set("Authorization", "Bearer "+localAdminKey)
	case c.Key != "":
		r.Header.Set("Authorization", "Bearer "+c.Key)
	case c.IAM != "":
		cred := iamCallers[c.IAM]
		sum := sha256.Sum256(c.Body)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey},
			r, hex.EncodeToString(sum[:]), "execute-api", localRegion, time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	w := httptest.NewRecorder()
	l.l.Handler.ServeHTTP(w, r)
	return reply{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// eventually polls check until it holds, for work both runtimes finish in the
// background (ingestion, evaluation runs); the AWS handlers' harness finishes it before
// answering, so there the first look succeeds.
func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	var last string
	for range 600 {
		ok, state := check()
		if ok {
			return
		}
		last = state
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: still %s", what, last)
}

// jsonBody marshals v.
// adminCaller returns a caller of rt's admin API that sends body as JSON (none when nil)
// and fails the test unless the answer has status want.
func adminCaller(t *testing.T, rt runtime) func(method, path string, body any, want int) reply {
	return func(method, path string, body any, want int) reply {
		t.Helper()
		c := call{Method: method, Path: path, Admin: true}
		if body != nil {
			c.Body, c.ContentType = jsonBody(body), "application/json"
		}
		r := rt.do(t, c)
		if r.Status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
		}
		return r
	}
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// contains reports whether the body holds all of subs.
func (r reply) contains(subs ...string) bool {
	for _, s := range subs {
		if !strings.Contains(string(r.Body), s) {
			return false
		}
	}
	return true
}
