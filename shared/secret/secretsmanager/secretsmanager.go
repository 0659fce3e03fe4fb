// Package secretsmanager resolves credentials (secret.Ref) from AWS Secrets Manager.
package secretsmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/plinth-ai/plinth/shared/secret"
)

// DefaultSecretTTL is how long a fetched secret is reused before it is read again, so a
// rotated provider key reaches warm functions within minutes.
const DefaultSecretTTL = 5 * time.Minute

// API is the part of the Secrets Manager client the resolver uses.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Resolver resolves credentials from AWS Secrets Manager. A Ref's Secret (a deployment's
// api_key_secret, a tool credential's secret) is either
//
//   - the name of an entry of the platform's provider secret (PLINTH_PROVIDER_SECRET_ARN),
//     a JSON object mapping names to keys: {"openai-prod":"sk-…","azure-eu":"…"}; or
//   - a secret's ARN, whose value is the key itself, or a JSON object with an "api_key"
//     (or single) member.
//
// Values given inline or in environment variables (secret.Env) still work. Values are
// cached for the TTL; concurrent misses of one secret make one call.
type Resolver struct {
	client   func() API
	provider string
	ttl      time.Duration
	now      func() time.Time

	once sync.Once
	api  API

	mu    sync.Mutex
	cache map[string]*secretEntry
}

type secretEntry struct {
	mu      sync.Mutex
	value   string
	fetched time.Time
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithTTL sets how long a fetched secret is reused (default DefaultSecretTTL).
func WithTTL(d time.Duration) Option { return func(s *Resolver) { s.ttl = d } }

// WithClock sets the clock the TTL is judged by.
func WithClock(now func() time.Time) Option { return func(s *Resolver) { s.now = now } }

// New returns a resolver reading the platform's provider secret (an ARN; "" when there
// is none). client is called once, on the first miss, so functions that never need a
// credential never build a Secrets Manager client.
func New(client func() API, providerSecretARN string, opts ...Option) *Resolver {
	s := &Resolver{client: client, provider: providerSecretARN, ttl: DefaultSecretTTL, now: time.Now, cache: map[string]*secretEntry{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Resolve implements secret.Resolver.
func (s *Resolver) Resolve(ctx context.Context, r secret.Ref) (string, error) {
	if r.Value != "" || r.Secret == "" {
		return secret.Env(ctx, r)
	}
	if strings.HasPrefix(r.Secret, "arn:") {
		raw, err := s.get(ctx, r.Secret)
		if err != nil {
			return "", fmt.Errorf("credential of %s: %w", r.Owner, err)
		}
		return keyFromSecret(raw), nil
	}
	if s.provider == "" {
		return "", fmt.Errorf("%s names provider key %q, but the platform has no provider secret: %w", r.Owner, r.Secret, secret.ErrNoStore)
	}
	raw, err := s.get(ctx, s.provider)
	if err != nil {
		return "", fmt.Errorf("provider keys secret: %w", err)
	}
	var keys map[string]string
	if err := json.Unmarshal([]byte(raw), &keys); err != nil {
		return "", fmt.Errorf("provider keys secret is not a JSON object of strings: %w", err)
	}
	k, ok := keys[r.Secret]
	if !ok || k == "" {
		return "", fmt.Errorf("%s: provider key %q: %w", r.Owner, r.Secret, secret.ErrNotFound)
	}
	return k, nil
}

// keyFromSecret reads a key out of a secret value: the value itself, or the "api_key"
// (or only) member of a JSON object.
func keyFromSecret(raw string) string {
	var m map[string]string
	if strings.HasPrefix(strings.TrimSpace(raw), "{") && json.Unmarshal([]byte(raw), &m) == nil {
		if k, ok := m["api_key"]; ok {
			return k
		}
		if len(m) == 1 {
			for _, k := range m {
				return k
			}
		}
	}
	return strings.TrimSpace(raw)
}

func (s *Resolver) get(ctx context.Context, id string) (string, error) {
	s.mu.Lock()
	e, ok := s.cache[id]
	if !ok {
		e = &secretEntry{}
		s.cache[id] = e
	}
	s.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.fetched.IsZero() && s.now().Sub(e.fetched) < s.ttl {
		return e.value, nil
	}
	s.once.Do(func() { s.api = s.client() })
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		if !e.fetched.IsZero() {
			// Keep serving the last good value through a Secrets Manager outage.
			return e.value, nil
		}
		return "", fmt.Errorf("read secret %s: %w", id, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s has no string value", id)
	}
	e.value, e.fetched = *out.SecretString, s.now()
	return e.value, nil
}
