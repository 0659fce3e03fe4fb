package sigv4_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// FuzzVerify verifies requests whose signing headers, path, query and body are
// arbitrary: Verify refuses them with one of its errors (a forged signature never
// verifies) and never panics; a body it reads is handed back intact.
func FuzzVerify(f *testing.F) {
	good := signed(&testing.T{}, "POST", "http://127.0.0.1:9999/v1/chat/completions?a=1", `{"x":1}`, cred.SecretAccessKey, now)
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), good.Header.Get("X-Amz-Security-Token"), "", "/v1/chat/completions", "a=1", `{"x":1}`)
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="+strings.Repeat("a", 64),
		"20261125T100000Z", "", "UNSIGNED-PAYLOAD", "/a%20b/c", "b=2&a=1&a=0", "")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/x/y/z/aws4_request,SignedHeaders=host;user-agent;x-amz-date,Signature=0", "x", "t", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "/", "", "")
	v := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{cred, longTerm}, sigv4.WithClock(func() time.Time { return now }), sigv4.WithMaxBody(1<<16))
	known := []error{sigv4.ErrNotSigned, sigv4.ErrMalformed, sigv4.ErrUnknownAccessKey, sigv4.ErrExpired, sigv4.ErrInvalidToken,
		sigv4.ErrPayloadHash, sigv4.ErrBodyTooLarge, sigv4.ErrSignatureMismatch}
	f.Fuzz(func(t *testing.T, authz, date, token, contentHash, path, query, body string) {
		r, err := http.NewRequest("POST", "http://127.0.0.1:9999/", strings.NewReader(body))
		if err != nil {
			return
		}
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, "", query
		r.Host = "127.0.0.1:9999"
		for k, val := range map[string]string{"Authorization": authz, "X-Amz-Date": date, "X-Amz-Security-Token": token, "X-Amz-Content-Sha256": contentHash} {
			if val != "" {
				r.Header.Set(k, val)
			}
		}
		_, err = v.Verify(r)
		if err == nil {
			t.Fatalf("a request built from fuzzed parts verified: %q", authz)
		}
		ok := false
		for _, k := range known {
			ok = ok || errors.Is(err, k)
		}
		if !ok && !strings.Contains(err.Error(), "read body") {
			t.Fatalf("unexpected error %v", err)
		}
		if b, _ := io.ReadAll(r.Body); len(b) != 0 && string(b) != body {
			t.Fatalf("body changed to %q", b)
		}
	})
}
