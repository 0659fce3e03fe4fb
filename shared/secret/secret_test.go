package secret_test

import (
	"context"
	"errors"
	"testing"

	"github.com/plinth-ai/plinth/shared/secret"
)

func TestEnv(t *testing.T) {
	t.Setenv("PLINTH_TEST_KEY", "sk-from-env")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ref  secret.Ref
		want string
		err  error
	}{
		{"inline value wins", secret.Ref{Value: "sk-inline", Env: "PLINTH_TEST_KEY", Secret: "x"}, "sk-inline", nil},
		{"environment variable", secret.Ref{Env: "PLINTH_TEST_KEY"}, "sk-from-env", nil},
		{"unset variable", secret.Ref{Env: "PLINTH_TEST_UNSET_KEY"}, "", secret.ErrNotFound},
		{"secret without a store", secret.Ref{Owner: "deployment d", Secret: "openai-prod"}, "", secret.ErrNoStore},
		{"nothing", secret.Ref{}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secret.Env(ctx, tc.ref)
			if !errors.Is(err, tc.err) || got != tc.want || (tc.err == nil) != (err == nil) {
				t.Fatalf("got %q %v, want %q %v", got, err, tc.want, tc.err)
			}
		})
	}
}
