// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests against
// configured credentials, so the local platform accepts the same IAM-signed requests API
// Gateway accepts in AWS and maps their principal to a tenant. It implements the
// header-based form of the algorithm (Authorization: AWS4-HMAC-SHA256 …) as documented in
// "Create a signed AWS API request"; presigned URLs are not accepted.
package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors; all mean 401 (or 403 for ErrSignatureMismatch, as AWS answers).
var (
	// ErrNotSigned means the request carries no SigV4 Authorization header.
	ErrNotSigned = errors.New("sigv4: request is not signed")
	// ErrMalformed means the Authorization header or signing headers are malformed.
	ErrMalformed = errors.New("sigv4: malformed signature")
	// ErrUnknownAccessKey means the access key ID is not configured.
	ErrUnknownAccessKey = errors.New("sigv4: unknown access key")
	// ErrExpired means the signing time is outside the allowed clock skew.
	ErrExpired = errors.New("sigv4: signature expired or not yet valid")
	// ErrSignatureMismatch means the signature does not match the request.
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")
)

const (
	algorithm   = "AWS4-HMAC-SHA256"
	amzDate     = "X-Amz-Date"
	contentHash = "X-Amz-Content-Sha256"
	timeFormat  = "20060102T150405Z"
	maxBody     = 16 << 20
)

// Credential is one configured signing identity.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	// PrincipalARN is the IAM principal the credential stands for (mapped to a tenant).
	PrincipalARN string
}

type options struct {
	now     func() time.Time
	maxSkew time.Duration
}

// Option configures a Verifier.
type Option func(*options)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithMaxSkew sets how far the signing time may be from now (default 5 minutes, as AWS).
func WithMaxSkew(d time.Duration) Option { return func(o *options) { o.maxSkew = d } }

// Verifier checks signatures for one region and service (e.g. "us-east-1", "execute-api").
type Verifier struct {
	region, service string
	creds           map[string]Credential
	opt             options
}

// NewVerifier returns a Verifier accepting the given credentials.
func NewVerifier(region, service string, creds []Credential, opts ...Option) *Verifier {
	o := options{now: time.Now, maxSkew: 5 * time.Minute}
	for _, f := range opts {
		f(&o)
	}
	m := make(map[string]Credential, len(creds))
	for _, c := range creds {
		m[c.AccessKeyID] = c
	}
	return &Verifier{region: region, service: service, creds: m, opt: o}
}

// IsSigned reports whether r carries a SigV4 Authorization header (so a middleware can
// choose between API-key and IAM authentication).
func IsSigned(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), algorithm+" ")
}

type authHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuth(h string) (authHeader, error) {
	var a authHeader
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return a, ErrNotSigned
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("%w: component %q", ErrMalformed, part)
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, fmt.Errorf("%w: credential scope %q", ErrMalformed, v)
			}
			a.accessKey, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, fmt.Errorf("%w: missing Credential, SignedHeaders or Signature", ErrMalformed)
	}
	return a, nil
}

// Verify checks r's signature and returns the credential it was signed with. It reads and
// restores the body to hash the payload unless X-Amz-Content-Sha256 is signed.
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
	hasHost, hasDate := false, false
	for _, h := range a.signedHeaders {
		hasHost = hasHost || h == "host"
		hasDate = hasDate || h == "x-amz-date"
	}
	if !hasHost || !hasDate {
		return Credential{}, fmt.Errorf("%w: host and x-amz-date must be signed", ErrMalformed)
	}

	payload := r.Header.Get(contentHash)
	if payload == "" || payload == "UNSIGNED-PAYLOAD" {
		body := []byte{}
		if r.Body != nil {
			body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			if err != nil {
				return Credential{}, fmt.Errorf("sigv4: read body: %w", err)
			}
			if len(body) > maxBody {
				return Credential{}, fmt.Errorf("%w: body too large to verify", ErrMalformed)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}

	canonical := strings.Join([]string{
		r.Method,
		canonicalURI(r.URL),
		canonicalQuery(r.URL),
		canonicalHeaders(r, a.signedHeaders),
		strings.Join(a.signedHeaders, ";"),
		payload,
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	scope := strings.Join([]string{a.date, a.region, a.service, "aws4_request"}, "/")
	toSign := strings.Join([]string{algorithm, r.Header.Get(amzDate), scope, hex.EncodeToString(sum[:])}, "\n")

	k := hmacSHA256([]byte("AWS4"+cred.SecretAccessKey), a.date)
	k = hmacSHA256(k, a.region)
	k = hmacSHA256(k, a.service)
	k = hmacSHA256(k, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(k, toSign))
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return Credential{}, ErrSignatureMismatch
	}
	return cred, nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// uriEncode percent-encodes everything but RFC 3986 unreserved characters (and '/' when
// keepSlash), as SigV4 requires.
func uriEncode(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// canonicalURI encodes the already-escaped path once more, as every service but S3
// expects (the SDK's default).
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return uriEncode(p, true)
}

func canonicalQuery(u *url.URL) string {
	q, _ := url.ParseQuery(u.RawQuery)
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, uriEncode(k, false)+"="+uriEncode(v, false))
		}
	}
	return strings.Join(parts, "&")
}

func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, h := range signed {
		var vals []string
		switch h {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			vals = append([]string(nil), r.Header.Values(h)...)
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals, ","))
		b.WriteByte('\n')
	}
	return b.String()
}
