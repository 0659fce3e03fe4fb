package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// Sentinel errors; all mean the request is refused (401/403).
var (
	// ErrNotSigned means the request carries no SigV4 Authorization header.
	ErrNotSigned = errors.New("sigv4: request is not signed")
	// ErrMalformed means the Authorization header or signing headers are malformed or
	// use a form this verifier does not accept.
	ErrMalformed = errors.New("sigv4: malformed signature")
	// ErrUnknownAccessKey means the access key ID is not configured.
	ErrUnknownAccessKey = errors.New("sigv4: unknown access key")
	// ErrExpired means the signing time is outside the allowed clock skew.
	ErrExpired = errors.New("sigv4: signature expired or not yet valid")
	// ErrInvalidToken means the session token is missing, unsigned or not the
	// credential's (AWS: "The security token included in the request is invalid").
	ErrInvalidToken = errors.New("sigv4: security token is invalid")
	// ErrPayloadHash means a signed X-Amz-Content-Sha256 does not match the body, or an
	// unsigned payload was sent where it is not allowed.
	ErrPayloadHash = errors.New("sigv4: payload hash does not match the body")
	// ErrBodyTooLarge means the body is larger than the verifier hashes.
	ErrBodyTooLarge = errors.New("sigv4: body too large to verify")
	// ErrSignatureMismatch means the signature does not match the request.
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")

	errReadBody = errors.New("sigv4: read body")
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	amzDate         = "X-Amz-Date"
	contentHash     = "X-Amz-Content-Sha256"
	securityToken   = "X-Amz-Security-Token"
	timeFormat      = "20060102T150405Z"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// DefaultMaxBody is the largest body a verifier hashes by default.
	DefaultMaxBody = 16 << 20
)

// unsignable are headers the SDK's signer never signs, so a signature over them cannot
// be recomputed with it.
var unsignable = map[string]bool{"authorization": true, "user-agent": true, "x-amzn-trace-id": true, "expect": true, "transfer-encoding": true}

// Credential is one configured signing identity.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, makes this a temporary credential: every request must carry
	// it, signed, in X-Amz-Security-Token. When empty, a request carrying a token is
	// refused.
	SessionToken string
	// PrincipalARN is the IAM principal the credential stands for (mapped to a tenant).
	PrincipalARN string
}

type options struct {
	now           func() time.Time
	maxSkew       time.Duration
	maxBody       int64
	allowUnsigned bool
}

// Option configures a Verifier.
type Option func(*options)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithMaxSkew sets how far the signing time may be from now (default 5 minutes, as AWS).
func WithMaxSkew(d time.Duration) Option { return func(o *options) { o.maxSkew = d } }

// WithMaxBody sets the largest body hashed for verification (default DefaultMaxBody);
// a larger one fails with ErrBodyTooLarge.
func WithMaxBody(n int64) Option { return func(o *options) { o.maxBody = n } }

// WithoutUnsignedPayload refuses requests that sign UNSIGNED-PAYLOAD instead of the
// body's hash (allowed by default, as SigV4 allows it).
func WithoutUnsignedPayload() Option { return func(o *options) { o.allowUnsigned = false } }

// Verifier checks signatures for one region and service (e.g. "us-east-1", "execute-api").
type Verifier struct {
	region, service string
	creds           map[string]Credential
	opt             options
	signer          *v4.Signer
}

// NewVerifier returns a Verifier accepting the given credentials.
func NewVerifier(region, service string, creds []Credential, opts ...Option) *Verifier {
	o := options{now: time.Now, maxSkew: 5 * time.Minute, maxBody: DefaultMaxBody, allowUnsigned: true}
	for _, f := range opts {
		f(&o)
	}
	m := make(map[string]Credential, len(creds))
	for _, c := range creds {
		m[c.AccessKeyID] = c
	}
	return &Verifier{region: region, service: service, creds: m, opt: o, signer: v4.NewSigner()}
}

// IsSigned reports whether r carries a SigV4 Authorization header (so a middleware can
// choose between API-key and IAM authentication).
func IsSigned(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), algorithm+" ")
}

// Verify checks r's signature and returns the credential it was signed with. Unless the
// client signed UNSIGNED-PAYLOAD, it reads the body (at most the configured size) to
// hash it, and restores it for the handler.
func (v *Verifier) Verify(r *http.Request) (Credential, error) {
	a, err := parseAuth(r.Header.Get("Authorization"))
	if err != nil {
		return Credential{}, err
	}
	cred, ok := v.creds[a.accessKey]
	if !ok {
		return Credential{}, fmt.Errorf("%w: %s", ErrUnknownAccessKey, a.accessKey)
	}
	if a.region != v.region || a.service != v.service {
		return Credential{}, fmt.Errorf("%w: scope %s/%s, want %s/%s", ErrSignatureMismatch, a.region, a.service, v.region, v.service)
	}
	signedAt, err := time.Parse(timeFormat, r.Header.Get(amzDate))
	if err != nil {
		return Credential{}, fmt.Errorf("%w: %s header: %v", ErrMalformed, amzDate, err)
	}
	if signedAt.Format("20060102") != a.date {
		return Credential{}, fmt.Errorf("%w: credential date %s differs from %s", ErrMalformed, a.date, amzDate)
	}
	if d := v.opt.now().Sub(signedAt); d > v.opt.maxSkew || d < -v.opt.maxSkew {
		return Credential{}, fmt.Errorf("%w: signed at %s", ErrExpired, signedAt.Format(time.RFC3339))
	}
	if !a.signs("host") || !a.signs("x-amz-date") {
		return Credential{}, fmt.Errorf("%w: host and x-amz-date must be signed", ErrMalformed)
	}
	token, err := v.checkToken(r, a, cred)
	if err != nil {
		return Credential{}, err
	}
	payload, err := v.payloadHash(r, a)
	if err != nil {
		return Credential{}, err
	}

	want, err := v.recompute(r, a, cred, token, payload, signedAt)
	if err != nil {
		return Credential{}, err
	}
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return Credential{}, ErrSignatureMismatch
	}
	return cred, nil
}

// checkToken enforces the credential's session token and returns it ("" for a
// long-term credential).
func (v *Verifier) checkToken(r *http.Request, a authHeader, cred Credential) (string, error) {
	got := r.Header.Get(securityToken)
	switch {
	case cred.SessionToken == "" && got == "":
		return "", nil
	case cred.SessionToken == "":
		return "", fmt.Errorf("%w: %s is a long-term credential", ErrInvalidToken, cred.AccessKeyID)
	case got == "":
		return "", fmt.Errorf("%w: %s is a temporary credential and needs %s", ErrInvalidToken, cred.AccessKeyID, securityToken)
	case !a.signs("x-amz-security-token"):
		return "", fmt.Errorf("%w: %s must be signed", ErrInvalidToken, securityToken)
	case subtle.ConstantTimeCompare([]byte(got), []byte(cred.SessionToken)) != 1:
		return "", fmt.Errorf("%w: not the token of %s", ErrInvalidToken, cred.AccessKeyID)
	}
	return got, nil
}

// payloadHash returns the payload hash the canonical request ends with: UNSIGNED-PAYLOAD
// when the client signed that (and it is allowed), else the body's SHA-256, which a
// signed X-Amz-Content-Sha256 must equal.
func (v *Verifier) payloadHash(r *http.Request, a authHeader) (string, error) {
	claimed := r.Header.Get(contentHash)
	if claimed == unsignedPayload {
		if !v.opt.allowUnsigned {
			return "", fmt.Errorf("%w: unsigned payloads are not accepted", ErrPayloadHash)
		}
		if !a.signs("x-amz-content-sha256") {
			return "", fmt.Errorf("%w: %s must be signed", ErrMalformed, contentHash)
		}
		return unsignedPayload, nil
	}
	if strings.HasPrefix(claimed, "STREAMING-") {
		return "", fmt.Errorf("%w: chunked payload signing (%s) is not supported", ErrMalformed, claimed)
	}
	body := []byte{}
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, v.opt.maxBody+1))
		if err != nil {
			return "", fmt.Errorf("%w: %w", errReadBody, err)
		}
		if int64(len(body)) > v.opt.maxBody {
			return "", fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, v.opt.maxBody)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	sum := sha256.Sum256(body)
	computed := hex.EncodeToString(sum[:])
	if claimed != "" && !strings.EqualFold(claimed, computed) {
		return "", fmt.Errorf("%w: %s says %s, the body hashes to %s", ErrPayloadHash, contentHash, claimed, computed)
	}
	return computed, nil
}

// recompute signs a copy of r holding exactly the headers the client signed with the
// SDK's signer, and returns the signature it computes.
func (v *Verifier) recompute(r *http.Request, a authHeader, cred Credential, token, payload string, signedAt time.Time) (string, error) {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	c := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   host,
		Header: http.Header{},
	}
	for _, h := range a.signedHeaders {
		switch {
		case unsignable[h]:
			return "", fmt.Errorf("%w: a signature over %s cannot be verified", ErrMalformed, h)
		case h == "host", h == "x-amz-date", h == "x-amz-security-token":
			// The signer writes these itself, from host, the signing time and the token.
		case h == "content-length":
			c.ContentLength = r.ContentLength
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return "", fmt.Errorf("%w: signed header %s is absent", ErrSignatureMismatch, h)
			}
			c.Header[textproto.CanonicalMIMEHeaderKey(h)] = append([]string(nil), vals...)
		}
	}
	creds := aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey, SessionToken: token}
	if err := v.signer.SignHTTP(context.Background(), creds, c, payload, v.service, v.region, signedAt); err != nil {
		return "", fmt.Errorf("sigv4: recompute signature: %w", err)
	}
	mine, err := parseAuth(c.Header.Get("Authorization"))
	if err != nil {
		return "", fmt.Errorf("sigv4: recompute signature: %w", err)
	}
	if mine.signedHeadersRaw != a.signedHeadersRaw {
		return "", fmt.Errorf("%w: signed headers %q cannot be reproduced (got %q)", ErrSignatureMismatch, a.signedHeadersRaw, mine.signedHeadersRaw)
	}
	return mine.signature, nil
}

type authHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signedHeadersRaw                 string
	signature                        string
}

func (a authHeader) signs(h string) bool {
	for _, s := range a.signedHeaders {
		if s == h {
			return true
		}
	}
	return false
}

// parseAuth reads "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex", each component exactly once.
func parseAuth(h string) (authHeader, error) {
	var a authHeader
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return a, ErrNotSigned
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || seen[k] {
			return a, fmt.Errorf("%w: component %q", ErrMalformed, part)
		}
		seen[k] = true
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, fmt.Errorf("%w: credential scope %q", ErrMalformed, v)
			}
			a.accessKey, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeadersRaw = v
			a.signedHeaders = strings.Split(v, ";")
			for i, s := range a.signedHeaders {
				if s == "" || s != strings.ToLower(s) || (i > 0 && a.signedHeaders[i-1] >= s) {
					return a, fmt.Errorf("%w: SignedHeaders %q must be lower case, sorted and unique", ErrMalformed, v)
				}
			}
		case "Signature":
			if len(v) != 64 {
				return a, fmt.Errorf("%w: signature is not 64 hex digits", ErrMalformed)
			}
			a.signature = v
		default:
			return a, fmt.Errorf("%w: unknown component %q", ErrMalformed, k)
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, fmt.Errorf("%w: missing Credential, SignedHeaders or Signature", ErrMalformed)
	}
	return a, nil
}

// APIError maps a Verify error to the HTTP error handlers write: ErrBodyTooLarge → 413
// request_too_large, a body that could not be read → 400, anything else → 403
// invalid_signature (as AWS answers signature failures).
func APIError(err error) *httpapi.Error {
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, httpapi.CodeRequestTooLarge, "%v", err)
	case errors.Is(err, errReadBody):
		return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeInvalidRequest, "%v", err)
	}
	return httpapi.Errorf(http.StatusForbidden, httpapi.CodeInvalidSignature, "%v", err)
}
