package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/plinth-ai/plinth/shared/registry"
)

// DefaultSecretTTL is how long a fetched secret is reused before it is read again, so a
// rotated provider key reaches warm functions within minutes.
const DefaultSecretTTL = 5 * time.Minute

// ErrSecretNotFound means a deployment names a key the provider secret does not hold.
var ErrSecretNotFound = errors.New("provider key not found")

// SecretsResolver resolves deployments' provider API keys from AWS Secrets Manager.
// A deployment's api_key_secret is either
//
//   - the name of an entry of the platform's provider secret (PLINTH_PROVIDER_SECRET_ARN),
//     a JSON object mapping names to keys: {"openai-prod":"sk-…","azure-eu":"…"}; or
//   - a secret's ARN, whose value is the key itself, or a JSON object with an "api_key"
//     (or single) member.
//
// Keys in the registry entry or named environment variables (EnvSecrets) still work.
// Values are cached for the TTL; concurrent misses of one secret make one call.
type SecretsResolver struct {
	client   func() SecretsAPI
	provider string
	ttl      time.Duration
	now      func() time.Time

	once sync.Once
	api  SecretsAPI

	mu    sync.Mutex
	cache map[string]*secretEntry
}

type secretEntry struct {
	mu      sync.Mutex
	value   string
	fetched time.Time
}

// NewSecretsResolver returns a resolver; client is called once, on the first miss, so
// functions that never need a key never build a Secrets Manager client.
func NewSecretsResolver(client func() SecretsAPI, providerSecretARN string) *SecretsResolver {
	return &SecretsResolver{client: client, provider: providerSecretARN, ttl: DefaultSecretTTL, now: time.Now, cache: map[string]*secretEntry{}}
}

// Resolve implements SecretResolver.
func (s *SecretsResolver) Resolve(ctx context.Context, d registry.Deployment) (string, error) {
	if d.APIKey != "" || d.APIKeySecret == "" {
		return EnvSecrets(ctx, d)
	}
	if strings.HasPrefix(d.APIKeySecret, "arn:") {
		raw, err := s.get(ctx, d.APIKeySecret)
		if err != nil {
			return "", fmt.Errorf("api key of deployment %s: %w", d.ID, err)
		}
		return keyFromSecret(raw), nil
	}
	if s.provider == "" {
		return "", fmt.Errorf("deployment %s names provider key %q, but %s is not set: %w", d.ID, d.APIKeySecret, EnvProviderSecretARN, ErrMissingConfig)
	}
	raw, err := s.get(ctx, s.provider)
	if err != nil {
		return "", fmt.Errorf("provider keys secret: %w", err)
	}
	var keys map[string]string
	if err := json.Unmarshal([]byte(raw), &keys); err != nil {
		return "", fmt.Errorf("provider keys secret is not a JSON object of strings: %w", err)
	}
	k, ok := keys[d.APIKeySecret]
	if !ok || k == "" {
		return "", fmt.Errorf("deployment %s: %q: %w", d.ID, d.APIKeySecret, ErrSecretNotFound)
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

func (s *SecretsResolver) get(ctx context.Context, id string) (string, error) {
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
