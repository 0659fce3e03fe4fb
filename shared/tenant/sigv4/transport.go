package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Transport signs every request with SigV4 before sending it: the calling side of what
// Verifier checks, for a function that calls an IAM-authorised API (API Gateway's
// execute-api) with its role's credentials. The payload's SHA-256 is signed (never
// UNSIGNED-PAYLOAD) and sent in X-Amz-Content-Sha256.
type Transport struct {
	// Credentials is the credential chain (the Lambda role's in AWS); they are retrieved
	// for every request, so refreshed credentials are picked up.
	Credentials aws.CredentialsProvider
	// Region and Service form the credential scope (e.g. the API's region and
	// "execute-api").
	Region, Service string
	// Base sends the signed request (default http.DefaultTransport).
	Base http.RoundTripper
	// Now is the signing clock (default time.Now).
	Now func() time.Time
}

// RoundTrip implements http.RoundTripper. The request is cloned, never modified.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.Credentials == nil || t.Region == "" || t.Service == "" {
		return nil, fmt.Errorf("sigv4: transport needs credentials, a region and a service")
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("sigv4: read the body to sign: %w", err)
		}
		body = b
	}
	out := r.Clone(r.Context())
	out.Body, out.ContentLength = http.NoBody, 0
	if len(body) > 0 {
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	out.Header.Set(contentHash, hash)
	creds, err := t.Credentials.Retrieve(r.Context())
	if err != nil {
		return nil, fmt.Errorf("sigv4: credentials: %w", err)
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, out, hash, t.Service, t.Region, now()); err != nil {
		return nil, fmt.Errorf("sigv4: sign: %w", err)
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}
