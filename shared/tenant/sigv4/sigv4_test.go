package sigv4_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

var (
	now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	// cred is a temporary credential (the SDK signs its session token); longTerm is the
	// same key without one.
	cred     = sigv4.Credential{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "session-token", PrincipalARN: "arn:aws:iam::123456789012:role/app"}
	longTerm = sigv4.Credential{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey, PrincipalARN: cred.PrincipalARN}
)

// signed builds a request signed by the AWS SDK's own signer.
func signed(t *testing.T, method, url, body string, secret string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Custom", "  a   b ")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: secret, SessionToken: cred.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "execute-api", "eu-west-1", at); err != nil {
		t.Fatal(err)
	}
	// What a server sees: Host taken from the URL, RequestURI parsed again.
	req.Host = req.URL.Host
	return req
}

func TestVerify(t *testing.T) {
	v := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{cred}, sigv4.WithClock(func() time.Time { return now }))
	body := `{"model":"local-chat","messages":[{"role":"user","content":"hi"}]}`
	url := "http://127.0.0.1:9999/v1/chat/completions?b=2&a=1&a=0&sp=x%20y"
	tests := []struct {
		name   string
		req    func() *http.Request
		want   error
		bodyOK bool
	}{
		{"valid", func() *http.Request { return signed(t, "POST", url, body, cred.SecretAccessKey, now) }, nil, true},
		{"valid within skew", func() *http.Request {
			return signed(t, "POST", url, body, cred.SecretAccessKey, now.Add(-4*time.Minute))
		}, nil, true},
		{"valid path escaping", func() *http.Request {
			return signed(t, "GET", "http://127.0.0.1:9999/admin/tenants/acme/iam-principals/arn:aws:iam::1:role%2Fx", "", cred.SecretAccessKey, now)
		}, nil, false},
		{"wrong secret", func() *http.Request { return signed(t, "POST", url, body, "other-secret", now) }, sigv4.ErrSignatureMismatch, false},
		{"expired", func() *http.Request {
			return signed(t, "POST", url, body, cred.SecretAccessKey, now.Add(-6*time.Minute))
		}, sigv4.ErrExpired, false},
		{"future", func() *http.Request {
			return signed(t, "POST", url, body, cred.SecretAccessKey, now.Add(6*time.Minute))
		}, sigv4.ErrExpired, false},
		{"tampered body", func() *http.Request {
			r := signed(t, "POST", url, body, cred.SecretAccessKey, now)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "hi", "ho", 1)))
			return r
		}, sigv4.ErrSignatureMismatch, false},
		{"tampered query", func() *http.Request {
			r := signed(t, "POST", url, body, cred.SecretAccessKey, now)
			r.URL.RawQuery += "&c=3"
			return r
		}, sigv4.ErrSignatureMismatch, false},
		{"tampered signed header", func() *http.Request {
			r := signed(t, "POST", url, body, cred.SecretAccessKey, now)
			r.Header.Set("X-Custom", "changed")
			return r
		}, sigv4.ErrSignatureMismatch, false},
		{"unknown access key", func() *http.Request {
			r := signed(t, "POST", url, body, cred.SecretAccessKey, now)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AKIDEXAMPLE", "AKIDOTHER", 1))
			return r
		}, sigv4.ErrUnknownAccessKey, false},
		{"not signed", func() *http.Request {
			r, _ := http.NewRequest("GET", url, nil)
			r.Header.Set("Authorization", "Bearer pk-123")
			return r
		}, sigv4.ErrNotSigned, false},
		{"malformed", func() *http.Request {
			r := signed(t, "POST", url, body, cred.SecretAccessKey, now)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/x, Signature=00")
			return r
		}, sigv4.ErrMalformed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			got, err := v.Verify(r)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.PrincipalARN != cred.PrincipalARN {
					t.Fatalf("principal %q", got.PrincipalARN)
				}
			} else if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.bodyOK {
				b, _ := io.ReadAll(r.Body)
				if string(b) != body {
					t.Fatalf("body not restored: %q", b)
				}
			}
		})
	}
	other := sigv4.NewVerifier("us-east-1", "execute-api", []sigv4.Credential{cred}, sigv4.WithClock(func() time.Time { return now }))
	if _, err := other.Verify(signed(t, "POST", url, body, cred.SecretAccessKey, now)); !errors.Is(err, sigv4.ErrSignatureMismatch) {
		t.Fatalf("wrong region: %v", err)
	}
}

// TestVerifyOverHTTP sends SDK-signed requests through a real server, so the request the
// verifier sees is the one net/http parsed from the wire.
func TestVerifyOverHTTP(t *testing.T) {
	v := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{cred})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		io.WriteString(w, c.PrincipalARN)
	}))
	defer srv.Close()
	for _, path := range []string{"/v1/models", "/v1/usage?start=2026-11-01&end=2026-11-30", "/a%20b/c"} {
		t.Run(path, func(t *testing.T) {
			req := signed(t, "GET", srv.URL+path, "", cred.SecretAccessKey, time.Now())
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != cred.PrincipalARN {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
}
