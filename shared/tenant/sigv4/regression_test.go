package sigv4_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// sdkSigned signs a request with the AWS SDK's signer; header X-Amz-Content-Sha256 is set
// to payloadHash when contentHashHeader is true (as S3-style clients do).
func sdkSigned(t *testing.T, body, payloadHash, token string, contentHashHeader bool) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", "http://127.0.0.1:9999/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if contentHashHeader {
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	creds := aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, "execute-api", "eu-west-1", now); err != nil {
		t.Fatal(err)
	}
	req.Host = req.URL.Host
	return req
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestSwappedBodyIsRefused: a request signed with X-Amz-Content-Sha256, its body then
// replaced by another of the same length, must not verify: the payload hash is
// recomputed from the body, never taken from the header.
func TestSwappedBodyIsRefused(t *testing.T) {
	v := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{longTerm}, sigv4.WithClock(func() time.Time { return now }))
	body := `{"model":"local-chat","messages":[{"role":"user","content":"pay alice 10"}]}`
	swapped := `{"model":"local-chat","messages":[{"role":"user","content":"pay mallo 99"}]}`
	if len(body) != len(swapped) {
		t.Fatal("test bodies must have the same length")
	}
	r := sdkSigned(t, body, sum(body), "", true)
	if _, err := v.Verify(r); err != nil {
		t.Fatalf("the genuine request: %v", err)
	}
	r = sdkSigned(t, body, sum(body), "", true)
	r.Body = io.NopCloser(strings.NewReader(swapped))
	if _, err := v.Verify(r); !errors.Is(err, sigv4.ErrPayloadHash) {
		t.Fatalf("a request whose body was swapped after signing: %v, want ErrPayloadHash", err)
	}
	// Without the header the SDK signs the body's hash directly: a swap breaks the signature.
	r = sdkSigned(t, body, sum(body), "", false)
	r.Body = io.NopCloser(strings.NewReader(swapped))
	if _, err := v.Verify(r); !errors.Is(err, sigv4.ErrSignatureMismatch) {
		t.Fatalf("swapped body without X-Amz-Content-Sha256: %v, want ErrSignatureMismatch", err)
	}
}

// TestUnsignedPayloadIsAccepted: SigV4 lets a client sign "UNSIGNED-PAYLOAD" instead of
// the body's hash; such a request verifies, and its body reaches the handler untouched.
func TestUnsignedPayloadIsAccepted(t *testing.T) {
	v := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{longTerm}, sigv4.WithClock(func() time.Time { return now }))
	body := `{"model":"local-chat"}`
	r := sdkSigned(t, body, "UNSIGNED-PAYLOAD", "", true)
	if _, err := v.Verify(r); err != nil {
		t.Fatalf("UNSIGNED-PAYLOAD request: %v", err)
	}
	if b, _ := io.ReadAll(r.Body); string(b) != body {
		t.Fatalf("body %q", b)
	}
	strict := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{longTerm}, sigv4.WithClock(func() time.Time { return now }), sigv4.WithoutUnsignedPayload())
	if _, err := strict.Verify(sdkSigned(t, body, "UNSIGNED-PAYLOAD", "", true)); !errors.Is(err, sigv4.ErrPayloadHash) {
		t.Fatalf("UNSIGNED-PAYLOAD where refused: %v", err)
	}
	// UNSIGNED-PAYLOAD signed in the canonical request cannot be claimed afterwards for a
	// request signed over its body hash.
	r = sdkSigned(t, body, sum(body), "", false)
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if _, err := v.Verify(r); !errors.Is(err, sigv4.ErrMalformed) {
		t.Fatalf("unsigned UNSIGNED-PAYLOAD claim: %v", err)
	}
}

// TestSessionTokenOfLongTermCredentialIsRefused: a long-term credential has no session
// token; a request presenting one is refused, as AWS refuses an invalid security token.
func TestSessionTokenOfLongTermCredentialIsRefused(t *testing.T) {
	v := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{longTerm}, sigv4.WithClock(func() time.Time { return now }))
	body := `{}`
	if _, err := v.Verify(sdkSigned(t, body, sum(body), "", false)); err != nil {
		t.Fatalf("without a token: %v", err)
	}
	if _, err := v.Verify(sdkSigned(t, body, sum(body), "forged-session-token", false)); !errors.Is(err, sigv4.ErrInvalidToken) {
		t.Fatalf("a session token the credential does not have: %v", err)
	}
}

// TestSessionTokenOfTemporaryCredential: a temporary credential's requests must carry its
// token, signed.
func TestSessionTokenOfTemporaryCredential(t *testing.T) {
	v := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{cred}, sigv4.WithClock(func() time.Time { return now }))
	body := `{}`
	if _, err := v.Verify(sdkSigned(t, body, sum(body), cred.SessionToken, false)); err != nil {
		t.Fatalf("with its token: %v", err)
	}
	for name, r := range map[string]*http.Request{
		"no token":    sdkSigned(t, body, sum(body), "", false),
		"other token": sdkSigned(t, body, sum(body), "other-token", false),
		"token added after signing": func() *http.Request {
			r := sdkSigned(t, body, sum(body), "", false)
			r.Header.Set("X-Amz-Security-Token", cred.SessionToken)
			return r
		}(),
	} {
		if _, err := v.Verify(r); !errors.Is(err, sigv4.ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
}

// TestRefusedForms: forms this verifier refuses, each with its reason.
func TestRefusedForms(t *testing.T) {
	v := sigv4.NewVerifier("eu-west-1", "execute-api", []sigv4.Credential{longTerm}, sigv4.WithClock(func() time.Time { return now }), sigv4.WithMaxBody(64))
	cases := map[string]struct {
		r    func() *http.Request
		want error
	}{
		"body over the limit": {func() *http.Request {
			b := strings.Repeat("x", 65)
			return sdkSigned(t, b, sum(b), "", false)
		}, sigv4.ErrBodyTooLarge},
		"chunked payload": {func() *http.Request {
			return sdkSigned(t, "{}", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "", true)
		}, sigv4.ErrMalformed},
		"a signed header the signature does not cover": {func() *http.Request {
			r := sdkSigned(t, "{}", sum("{}"), "", false)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=aaa;", 1))
			r.Header.Set("Aaa", "x")
			return r
		}, sigv4.ErrSignatureMismatch},
		"signed user-agent": {func() *http.Request {
			r := sdkSigned(t, "{}", sum("{}"), "", false)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";host;", ";host;user-agent;", 1))
			r.Header.Set("User-Agent", "x")
			return r
		}, sigv4.ErrMalformed},
		"unsorted signed headers": {func() *http.Request {
			r := sdkSigned(t, "{}", sum("{}"), "", false)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=content-length;content-type;host", "SignedHeaders=host;content-type;content-length", 1))
			return r
		}, sigv4.ErrMalformed},
		"duplicate component": {func() *http.Request {
			r := sdkSigned(t, "{}", sum("{}"), "", false)
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", Signature="+strings.Repeat("0", 64))
			return r
		}, sigv4.ErrMalformed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(tc.r()); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
		})
	}
}
