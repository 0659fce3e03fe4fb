// Package platform assembles Plinth's capabilities into running services: the whole
// platform in one process for local mode (embedded store, files, local models), and the
// per-function pieces the Lambda entry points share.
package platform

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/audit/storelog"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/cache"
	"github.com/plinth-ai/plinth/shared/cache/gatewaycache"
	"github.com/plinth-ai/plinth/shared/console"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/guardrail/guardrailhttp"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/humaneval"
	"github.com/plinth-ai/plinth/shared/mcpgw"
	"github.com/plinth-ai/plinth/shared/provider/router"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/quota/gatewayquota"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/tiered"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/gatewayauth"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
	"github.com/plinth-ai/plinth/shared/toolhub"
	"github.com/plinth-ai/plinth/shared/toolhub/mcpclient"
	"github.com/plinth-ai/plinth/shared/usage"
	"github.com/plinth-ai/plinth/shared/usage/filespool"
	"github.com/plinth-ai/plinth/shared/usage/gatewayusage"
)

// hotPartitions are store partitions written on every gateway request whose loss in an
// abrupt kill costs at most 100 ms of enforcement slack: quota counters and cached
// responses. Usage records, the billing ledger, are always committed to the store.
var hotPartitions = []string{"QUOTA#", "CACHE#"}

// DemoTenant is the tenant seeded on first start.
const DemoTenant = "demo"

// Config configures the local platform.
type Config struct {
	// DataDir holds the embedded store, blobs and the inbox (created if missing).
	DataDir string
	// AdminKey authenticates the admin API; generated and kept in DataDir when empty.
	AdminKey string
	// Fsync makes every store commit durable against OS crashes (slower); process
	// crashes lose nothing either way.
	Fsync bool
	// SigV4 credentials let clients sign requests with AWS Signature Version 4 instead of
	// an API key; each credential's principal ARN is mapped to a tenant through the admin
	// API, as IAM principals are in AWS.
	SigV4  []sigv4.Credential
	Region string
	Logger *slog.Logger
	// Store and Blobs, when set, replace the embedded store and the data directory's blob
	// store, e.g. to run several platform instances over one shared DynamoDB table.
	Store store.Store
	Blobs blob.Store
	// MCPOAuth, when set, makes /mcp accept OAuth 2.1 access tokens issued for it too.
	MCPOAuth *mcpgw.OAuthConfig
	// Clock is the platform's one clock (default time.Now): stores judge expiry by it,
	// quotas count windows by it, and usage records, registry entries, tenants, cache
	// entries, knowledge bases and evaluation runs are stamped with it.
	Clock func() time.Time
	// RouterOptions tune the model router (retries, backoff, breakers, default timeouts).
	RouterOptions []router.Option
	// DeploymentOptions add to how deployments are built, e.g. router.WithAWSConfig to
	// serve Bedrock deployments.
	DeploymentOptions []router.BuildOption
}

// Local is the whole platform in one process.
type Local struct {
	Handler  http.Handler
	AdminKey string
	// DemoKey is the demo tenant's API key.
	DemoKey string

	Store store.Store
	Blobs blob.Store
	// Gateway is the model gateway service: platform features call it directly.
	Gateway  *gateway.Gateway
	Registry *registry.Service
	Tenants  *tenant.Service
	Usage    *usage.Recorder
	// Audit records audit events; AuditLog is the trail they are appended to.
	Audit    *audit.Writer
	AuditLog audit.Log
	Executor *flow.Executor
	RAG      *rag.Service
	Eval     *eval.Service
	// HumanEval holds review queues, reviews and ground-truth datasets.
	HumanEval *humaneval.Service
	// Tools is the tool catalog; ToolHub calls tools for /mcp and agents.
	Tools   *toolhub.Service
	ToolHub *toolhub.Hub

	log      *slog.Logger
	now      func() time.Time
	closers  []func(context.Context) error
	grounder *ragGrounder
}

// NewLocal opens (or creates) the platform's data in cfg.DataDir and wires every route.
func NewLocal(ctx context.Context, cfg Config) (*Local, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("platform: DataDir is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := tightenDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	l := &Local{log: log, grounder: &ragGrounder{}, now: now}
	ok := false
	defer func() {
		if !ok {
			_ = l.Close(context.Background())
		}
	}()

	st := cfg.Store
	if st == nil {
		storeOpts := []boltstore.Option{boltstore.WithClock(now)}
		if !cfg.Fsync {
			storeOpts = append(storeOpts, boltstore.WithNoSync())
		}
		bs, err := boltstore.Open(filepath.Join(cfg.DataDir, "plinth.db"), storeOpts...)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		l.closers = append(l.closers, func(context.Context) error { return bs.Close() })
		st = bs
		if !cfg.Fsync {
			// Quota counters and cached responses are written on every request; in this
			// single process (bbolt locks its file) memory is their authoritative copy,
			// persisted every 100 ms and on shutdown.
			ts := tiered.New(bs, tiered.WithPrefixes(hotPartitions...), tiered.WithLogger(log), tiered.WithClock(now),
				tiered.WithMaxItems(5_000), tiered.WithMaxBytes(4<<20))
			l.closers = append([]func(context.Context) error{ts.Close}, l.closers...)
			st = ts
		}
	}
	l.Store = st
	l.Blobs = cfg.Blobs
	if l.Blobs == nil {
		fs, err := fsblob.New(filepath.Join(cfg.DataDir, "blobs"))
		if err != nil {
			return nil, fmt.Errorf("open blob store: %w", err)
		}
		l.Blobs = fs
	}
	var err error

	if l.AdminKey, err = secretFile(cfg.AdminKey, filepath.Join(cfg.DataDir, "admin-key"), "adm-"); err != nil {
		return nil, err
	}

	l.Registry = registry.NewService(st, registry.WithClock(now))
	if err := l.Registry.SeedBuiltins(ctx); err != nil {
		return nil, err
	}
	l.Tenants = tenant.NewService(st, tenant.WithLogger(log), tenant.WithClock(now))
	if l.DemoKey, err = l.seedDemo(ctx, filepath.Join(cfg.DataDir, "demo-key")); err != nil {
		return nil, err
	}

	// Usage records, the billing ledger, are spooled to disk before the request ends and
	// drained into the store with retries: neither a killed process nor a failing store
	// loses one, and replays count once.
	spoolOpts := []filespool.Option{filespool.WithLogger(log)}
	if cfg.Fsync {
		spoolOpts = append(spoolOpts, filespool.WithSync())
	}
	spool, err := filespool.Open(filepath.Join(cfg.DataDir, "usage-spool"), usage.NewLedger(st, 0).Write, spoolOpts...)
	if err != nil {
		return nil, fmt.Errorf("open usage spool: %w", err)
	}
	l.closers = append([]func(context.Context) error{spool.Close}, l.closers...)
	l.Usage = usage.NewRecorder(st, usage.WithLogger(log), usage.WithSpool(spool))
	l.closers = append([]func(context.Context) error{l.Usage.Close}, l.closers...)
	usageSvc := usage.NewService(st, l.Tenants)
	l.AuditLog = storelog.New(st)
	l.Audit = audit.NewWriter(l.AuditLog, audit.WithLogger(log))
	l.closers = append([]func(context.Context) error{l.Audit.Close}, l.closers...)

	guards, err := newGuardrails(st, l.Tenants, now)
	if err != nil {
		return nil, fmt.Errorf("guardrails: %w", err)
	}
	inv := NewInvoker(router.New(cfg.RouterOptions...), l.Registry, EnvSecrets,
		append([]router.BuildOption{router.WithSharedHTTPClient(UpstreamHTTPClient())}, cfg.DeploymentOptions...)...)
	gw := gateway.New(l.Registry, inv,
		gateway.WithLogger(log),
		gateway.WithClock(now),
		gateway.WithTenants(l.Tenants),
		gateway.WithGuard(newGuardAdapter(guards)),
		gateway.WithGrounder(l.grounder),
		gateway.WithQuota(gatewayquota.New(quota.New(st, quota.WithClock(now)))),
		gateway.WithUsage(gatewayusage.New(l.Usage, log)),
		gateway.WithCache(gatewaycache.New(cache.New(st, cache.WithClock(now), cache.WithEmbedder(semanticEmbedder(inv, l.Registry))), log)),
	)
	l.Gateway = gw

	v1 := http.NewServeMux()
	gw.Routes(v1)
	usage.Routes(v1, usageSvc)

	guardrailhttp.Routes(v1, guards)

	admin := http.NewServeMux()
	guardrailhttp.Routes(admin, guards)
	registry.Routes(admin, l.Registry)
	registry.PromptRoutes(admin, l.Registry)
	tenant.Routes(admin, l.Tenants)
	usage.Routes(admin, usageSvc)
	audit.Routes(admin, l.AuditLog)
	console.SessionRoutes(admin, v1)

	if err := l.wireCapabilities(ctx, cfg, gw, inv, v1, admin); err != nil {
		return nil, err
	}

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	root.HandleFunc("GET /openapi.json", serveLocalOpenAPI)
	// The web console: static files, public like this document; every call it makes
	// carries the signed-in user's own credential.
	root.Handle("GET /console/{path...}", console.Handler())
	var authOpts []gatewayauth.Option
	if len(cfg.SigV4) > 0 {
		region := cfg.Region
		if region == "" {
			region = "us-east-1"
		}
		authOpts = append(authOpts, gatewayauth.WithSigV4(sigv4.NewVerifier(region, "execute-api", cfg.SigV4)))
	}
	authn := gatewayauth.New(l.Tenants, authOpts...)
	var mcpClient *mcpclient.Client
	l.Tools, l.ToolHub, mcpClient = newToolHub(st, l.Tenants, guards, l.Usage, l.Audit, log, EnvSecrets, builtinPorts(l.RAG, guards, l.Eval))
	toolhub.Routes(admin, l.Tools)
	mcpOpts := []mcpgw.Option{mcpgw.WithLogger(log)}
	if cfg.MCPOAuth != nil {
		o, err := mcpgw.NewOAuth(*cfg.MCPOAuth, l.Tenants.CachedTenant)
		if err != nil {
			return nil, err
		}
		mcpOpts = append(mcpOpts, mcpgw.WithOAuth(o))
	}
	mcpGW := mcpgw.New(l.ToolHub, authn, mcpOpts...)
	l.closers = append([]func(context.Context) error{func(ctx context.Context) error {
		mcpGW.Close()
		mcpClient.Close(ctx)
		return nil
	}}, l.closers...)
	mountMCP(root, v1, mcpGW)
	root.Handle("/v1/", notFound(v1, gateway.Authenticate(authn, logRoute(v1, auditTrail(l.Audit, v1, scopes(v1))))))
	root.Handle("/admin/", notFound(admin, adminOnly(l.AdminKey, logRoute(admin, auditTrail(l.Audit, admin, admin)))))
	l.Handler = requestIDs(requestLog(log, recoverer(log, notFound(root, root))))
	ok = true
	return l, nil
}

// Close flushes usage and closes the store.
func (l *Local) Close(ctx context.Context) error {
	var errs []error
	for _, c := range l.closers {
		errs = append(errs, c(ctx))
	}
	l.closers = nil
	return errors.Join(errs...)
}

// seedDemo creates the demo tenant and its key on first start; the key is kept in a
// private file in the data directory so later starts can print it again.
func (l *Local) seedDemo(ctx context.Context, keyFile string) (string, error) {
	if b, err := os.ReadFile(keyFile); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if _, err := l.Tenants.CreateTenant(ctx, tenant.Tenant{ID: DemoTenant, Name: "Demo", Tags: map[string]string{"cost-center": "demo"}}); err != nil && !errors.Is(err, tenant.ErrExists) {
		return "", fmt.Errorf("seed demo tenant: %w", err)
	}
	_, secret, err := l.Tenants.CreateKey(ctx, DemoTenant, tenant.KeyOptions{Name: "demo"})
	if err != nil {
		return "", fmt.Errorf("seed demo key: %w", err)
	}
	if err := os.WriteFile(keyFile, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save demo key: %w", err)
	}
	return secret, nil
}

// tightenDataDir makes every directory under dir 0700 and every file 0600: the data
// directory holds keys, documents and index segments, and one made by an older version
// (or another tool) may have been left readable by other users.
func tightenDataDir(dir string) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm()&^want != 0 {
			return os.Chmod(path, info.Mode().Perm()&want)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("make data dir %s private: %w", dir, err)
	}
	return nil
}

// secretFile returns given when set, else the secret kept in path, else a new one saved there.
func secretFile(given, path, prefix string) (string, error) {
	if given != "" {
		return given, nil
	}
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	s := prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save %s: %w", filepath.Base(path), err)
	}
	return s, nil
}

// adminOnly admits requests bearing the admin key (constant-time comparison).
func adminOnly(key string, next http.Handler) http.Handler {
	want := []byte(key)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(tenant.BearerToken(r))
		if len(got) == 0 {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, "invalid_api_key", "the admin API needs Authorization: Bearer <admin key>"))
			return
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusUnauthorized, "invalid_api_key", "invalid admin key"))
			return
		}
		p := auth.Principal{Admin: true, KeyID: "admin"}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// UpstreamHTTPClient is the shared client for provider calls: a connection pool sized
// for gateway load, no overall timeout (streams are bounded by the router's timeouts).
func UpstreamHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.ForceAttemptHTTP2 = true
	return &http.Client{Transport: t}
}
