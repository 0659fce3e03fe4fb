package federation_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/plinth-ai/plinth/shared/federation"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// The line of business's role, mapped to a platform auditor at the centre, and a
// principal the centre knows (its credential verifies) but never mapped.
var (
	lobRole  = sigv4.Credential{AccessKeyID: "AKIALOBSYNC0000001", SecretAccessKey: "lob-sync-secret", PrincipalARN: "arn:aws:iam::222222222222:role/plinth-lob-admin"}
	stranger = sigv4.Credential{AccessKeyID: "AKIASTRANGER000001", SecretAccessKey: "stranger-secret", PrincipalARN: "arn:aws:iam::333333333333:role/someone"}
)

// startSigV4Centre is a centre that verifies SigV4 for creds (region eu-west-1), with an
// approved platform model and a guardrail baseline to export, and lobRole mapped to a
// platform auditor through the admin API.
func startSigV4Centre(t *testing.T) *node {
	t.Helper()
	ctx := context.Background()
	l, err := platform.NewLocal(ctx, platform.Config{DataDir: t.TempDir(), SigV4: []sigv4.Credential{lobRole, stranger},
		Region: "eu-west-1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start centre: %v", err)
	}
	n := &node{Local: l, srv: httptest.NewServer(l.Handler)}
	t.Cleanup(func() {
		n.srv.Close()
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("close centre: %v", err)
		}
	})
	m := registry.Model{ID: "org-chat", Kind: registry.KindChat, Owner: "ai-platform",
		Deployments: []registry.Deployment{{Provider: registry.ProviderLocal, Model: "local-chat"}}}
	if _, err := l.Registry.Create(ctx, m, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Registry.Review(ctx, "org-chat", "approve", "reviewer", "ok"); err != nil {
		t.Fatal(err)
	}
	if code, body := n.call(t, l.AdminKey, "POST", "/admin/guardrail-policies", `{"id":"org-floor","name":"organisation floor",
		"wordPolicyConfig":{"wordsConfig":[{"text":"project nightingale"}]}}`); code != 201 {
		t.Fatalf("create policy: %d %v", code, body)
	}
	if code, body := n.call(t, l.AdminKey, "PUT", "/admin/guardrail-baseline", `{"policy":"org-floor"}`); code != 200 {
		t.Fatalf("set baseline: %d %v", code, body)
	}
	if code, body := n.call(t, l.AdminKey, "POST", "/admin/iam-principals", `{"arn":"`+lobRole.PrincipalARN+`","role":"auditor"}`); code != 201 {
		t.Fatalf("map the line of business's role to auditor: %d %v", code, body)
	}
	return n
}

func sigv4Source(t *testing.T, centre *node, c sigv4.Credential) federation.Source {
	t.Helper()
	src, err := platform.CentralSettings{URL: centre.srv.URL, Auth: platform.CentralAuthSigV4, Region: "eu-west-1"}.
		Source(context.Background(), credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestSigV4Pull: a decentralised Plinth pulls from a centre that verifies SigV4, signing
// with its role's credentials instead of sending a key; a principal the centre has not
// mapped, and a credential with the wrong secret, are refused and change nothing.
func TestSigV4Pull(t *testing.T) {
	ctx := context.Background()
	centre := startSigV4Centre(t)

	lob := start(t, sigv4Source(t, centre, lobRole))
	if m, err := lob.Registry.Get(ctx, "org-chat"); err != nil || m.Status != registry.StatusApproved || m.Tags[federation.SourceTag] != federation.SourceCentral {
		t.Fatalf("org-chat after a signed pull: %+v %v", m, err)
	}
	st, err := federation.LoadState(ctx, lob.Store)
	if err != nil || st.CentralRef != "org-floor" || st.LocalRef != "org-floor:1" {
		t.Fatalf("baseline after a signed pull: %+v %v", st, err)
	}
	// What came from the centre is read-only on the line of business's admin API.
	if code, body := lob.call(t, lob.AdminKey, "PUT", "/admin/guardrail-baseline", `{"policy":""}`); code != 403 || errCode(body) != "permission_denied" {
		t.Errorf("baseline writable after a signed pull: %d %v", code, body)
	}

	wrongSecret := lobRole
	wrongSecret.SecretAccessKey = "not-the-secret"
	for _, c := range []struct {
		name string
		cred sigv4.Credential
		want string
	}{
		{"unmapped principal", stranger, "403 unknown_principal"},
		{"wrong secret", wrongSecret, "403 invalid_signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A fresh line of business: its start-up pull is refused, nothing arrives.
			other := start(t, sigv4Source(t, centre, c.cred))
			if _, err := other.Registry.Get(ctx, "org-chat"); !errors.Is(err, registry.ErrNotFound) {
				t.Errorf("org-chat arrived through a refused pull: %v", err)
			}
			if st, _ := federation.LoadState(ctx, other.Store); !st.SyncedAt.IsZero() {
				t.Errorf("a refused pull recorded state %+v", st)
			}
			// The synchronised one keeps what it has when a pull is refused.
			before, _ := federation.LoadState(ctx, lob.Store)
			_, err := federation.SyncOnce(ctx, sigv4Source(t, centre, c.cred), &federation.Local{Store: lob.Store, Registry: lob.Registry})
			if !errors.Is(err, federation.ErrCentre) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("pull as %s: %v, want ErrCentre with %s", c.name, err, c.want)
			}
			if after, _ := federation.LoadState(ctx, lob.Store); !after.SyncedAt.Equal(before.SyncedAt) {
				t.Errorf("a refused pull changed the state")
			}
			if m, err := lob.Registry.Get(ctx, "org-chat"); err != nil || m.Status != registry.StatusApproved {
				t.Errorf("org-chat after a refused pull: %+v %v", m, err)
			}
		})
	}
}

// TestCentralFromEnv: PLINTH_CENTRAL_AUTH=sigv4 takes the credentials from the default
// chain (here the environment's) and signs; inconsistent settings stop start-up with an
// error that names the setting.
func TestCentralFromEnv(t *testing.T) {
	centre := startSigV4Centre(t)
	for _, k := range []string{"PLINTH_CENTRAL_KEY", "PLINTH_CENTRAL_REGION", "PLINTH_CENTRAL_SYNC_INTERVAL", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_ACCESS_KEY_ID", lobRole.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", lobRole.SecretAccessKey)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("PLINTH_CENTRAL_URL", centre.srv.URL)
	t.Setenv("PLINTH_CENTRAL_AUTH", "sigv4")
	src, err := platform.CentralFromEnv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if src.Key != "" || src.Auth != "sigv4" {
		t.Errorf("source %+v: want sigv4 without a key", src)
	}
	reg, base, err := src.Pull(context.Background())
	var ids []string
	for _, m := range reg.Models {
		ids = append(ids, m.ID)
	}
	if err != nil || !slices.Contains(ids, "org-chat") || base.PolicyRef != "org-floor" {
		t.Fatalf("pull signed with the default chain's credentials: %v models %v baseline %q", err, ids, base.PolicyRef)
	}

	for _, c := range []struct {
		name string
		set  platform.CentralSettings
		want string
	}{
		{"sigv4 with a key", platform.CentralSettings{URL: "https://c.example", Auth: "sigv4", Key: "pk-x", Region: "eu-west-1"}, "unset PLINTH_CENTRAL_KEY"},
		{"sigv4 without a region", platform.CentralSettings{URL: "https://c.example", Auth: "sigv4"}, "PLINTH_CENTRAL_REGION"},
		{"key without a key", platform.CentralSettings{URL: "https://c.example"}, "without PLINTH_CENTRAL_KEY"},
		{"region with a key", platform.CentralSettings{URL: "https://c.example", Key: "pk-x", Region: "eu-west-1"}, "PLINTH_CENTRAL_REGION is for"},
		{"unknown auth", platform.CentralSettings{URL: "https://c.example", Auth: "oauth"}, `PLINTH_CENTRAL_AUTH="oauth"`},
		{"auth without a URL", platform.CentralSettings{Auth: "sigv4"}, "PLINTH_CENTRAL_AUTH is set without PLINTH_CENTRAL_URL"},
		{"not a URL", platform.CentralSettings{URL: "plinth.example.com", Key: "pk-x"}, "PLINTH_CENTRAL_URL"},
		{"short interval", platform.CentralSettings{URL: "https://c.example", Key: "pk-x", SyncInterval: "10ms"}, "PLINTH_CENTRAL_SYNC_INTERVAL"},
	} {
		if _, err := c.set.Source(context.Background(), nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
	// Region falls back to AWS_REGION; nothing set is not decentralised.
	if src, err := (platform.CentralSettings{URL: "https://c.example", Auth: "sigv4", AWSRegion: "eu-west-1"}).Source(context.Background(),
		credentials.NewStaticCredentialsProvider("a", "b", "")); err != nil || src.HTTP == nil {
		t.Errorf("sigv4 with AWS_REGION only: %+v %v", src, err)
	}
	if src, err := (platform.CentralSettings{}).Source(context.Background(), nil); err != nil || src.Configured() {
		t.Errorf("no settings: %+v %v", src, err)
	}
}
