package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/plinth-ai/plinth/shared/secret"
)

// fakeSecrets is an in-memory Secrets Manager.
type fakeSecrets struct {
	values map[string]string
	fail   atomic.Bool
	calls  atomic.Int64
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls.Add(1)
	if f.fail.Load() {
		return nil, errors.New("service unavailable")
	}
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, errors.New("ResourceNotFoundException")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

const (
	testProviderARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:plinth/provider-keys-AbCdEf"
	testRawARN      = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:openai-raw-Xy"
	testJSONARN     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:azure-json-Zz"
)

func TestSecretsResolver(t *testing.T) {
	t.Setenv("PLINTH_TEST_KEY", "sk-from-env")
	fake := &fakeSecrets{values: map[string]string{
		testProviderARN: `{"openai-prod":"sk-prod","azure-eu":"az-key"}`,
		testRawARN:      "sk-raw\n",
		testJSONARN:     `{"api_key":"az-json","endpoint":"https://x"}`,
	}}
	r := New(func() API { return fake }, testProviderARN)
	cases := []struct {
		name string
		d    secret.Ref
		want string
		err  error
	}{
		{"key in the registry entry", secret.Ref{Owner: "deployment d", Value: "sk-inline", Secret: "openai-prod"}, "sk-inline", nil},
		{"environment variable", secret.Ref{Owner: "deployment d", Env: "PLINTH_TEST_KEY"}, "sk-from-env", nil},
		{"no key at all", secret.Ref{Owner: "deployment d"}, "", nil},
		{"entry of the provider secret", secret.Ref{Owner: "deployment d", Secret: "azure-eu"}, "az-key", nil},
		{"secret ARN holding the key", secret.Ref{Owner: "deployment d", Secret: testRawARN}, "sk-raw", nil},
		{"secret ARN holding JSON", secret.Ref{Owner: "deployment d", Secret: testJSONARN}, "az-json", nil},
		{"unknown entry", secret.Ref{Owner: "deployment d", Secret: "nope"}, "", secret.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Resolve(context.Background(), tc.d)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
	// Three secrets were read, each once, though the provider secret served three cases.
	if n := fake.calls.Load(); n != 3 {
		t.Errorf("GetSecretValue calls %d, want 3", n)
	}

	t.Run("no provider secret configured", func(t *testing.T) {
		r := New(func() API { return fake }, "")
		if _, err := r.Resolve(context.Background(), secret.Ref{Owner: "deployment d", Secret: "openai-prod"}); !errors.Is(err, secret.ErrNoStore) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestSecretsResolverRefreshesAndSurvivesOutages(t *testing.T) {
	fake := &fakeSecrets{values: map[string]string{testProviderARN: `{"k":"v1"}`}}
	now := time.Unix(1764064800, 0)
	r := New(func() API { return fake }, testProviderARN)
	r.now = func() time.Time { return now }
	d := secret.Ref{Owner: "deployment d", Secret: "k"}
	steps := []struct {
		advance time.Duration
		value   string
		fail    bool
		want    string
		calls   int64
	}{
		{0, `{"k":"v1"}`, false, "v1", 1},
		{time.Minute, `{"k":"v2"}`, false, "v1", 1},                   // cached
		{DefaultSecretTTL, `{"k":"v2"}`, false, "v2", 2},              // expired: rotated value
		{DefaultSecretTTL + time.Second, `{"k":"v3"}`, true, "v2", 3}, // outage: last good value
	}
	for i, s := range steps {
		t.Run(fmt.Sprint("step ", i), func(t *testing.T) {
			now = now.Add(s.advance)
			fake.values[testProviderARN] = s.value
			fake.fail.Store(s.fail)
			got, err := r.Resolve(context.Background(), d)
			if err != nil || got != s.want || fake.calls.Load() != s.calls {
				t.Fatalf("got %q %v after %d calls, want %q after %d", got, err, fake.calls.Load(), s.want, s.calls)
			}
		})
	}
}
