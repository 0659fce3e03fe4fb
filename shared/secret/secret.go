// Package secret resolves credentials the platform keeps outside its store's plain
// fields: model deployments' provider API keys and tool servers' credentials. A Ref says
// where one is kept; a Resolver reads it. Env (the value itself, or an environment
// variable) is built in; secret/secretsmanager reads AWS Secrets Manager.
package secret

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Sentinel errors.
var (
	// ErrNotFound means the place a Ref names holds no such credential.
	ErrNotFound = errors.New("credential not found")
	// ErrNoStore means a Ref names a secret store this runtime does not have.
	ErrNoStore = errors.New("no secret store is configured")
)

// Ref says where one credential is kept: in the entry itself (Value), in an environment
// variable (Env), or in a secret store (Secret: a Secrets Manager ARN, or the name of an
// entry of the platform's provider secret). Owner names what the credential is for
// ("deployment openai-eu"), for error messages.
type Ref struct {
	Owner  string
	Value  string
	Env    string
	Secret string
}

// Resolver returns the credential r names ("" when r names none).
type Resolver func(ctx context.Context, r Ref) (string, error)

// Env resolves credentials given inline or in environment variables; a Ref naming a
// secret store fails with ErrNoStore.
func Env(_ context.Context, r Ref) (string, error) {
	if r.Value != "" {
		return r.Value, nil
	}
	if r.Env != "" {
		v, ok := os.LookupEnv(r.Env)
		if !ok {
			return "", fmt.Errorf("environment variable %s (credential of %s): %w", r.Env, r.Owner, ErrNotFound)
		}
		return v, nil
	}
	if r.Secret != "" {
		return "", fmt.Errorf("%s names secret %s: %w", r.Owner, r.Secret, ErrNoStore)
	}
	return "", nil
}
