package platform

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/audit/storelog"
	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/federation"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/gateway/tenantauth"
	"github.com/plinth-ai/plinth/shared/humaneval"
	"github.com/plinth-ai/plinth/shared/kms"
	"github.com/plinth-ai/plinth/shared/kms/filekms"
	"github.com/plinth-ai/plinth/shared/mcpgw"
	"github.com/plinth-ai/plinth/shared/platform/inprocess"
	"github.com/plinth-ai/plinth/shared/provider/router"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/secret"
	"github.com/plinth-ai/plinth/shared/spool/filespool"
	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/store/tiered"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
	"github.com/plinth-ai/plinth/shared/toolhub"
	"github.com/plinth-ai/plinth/shared/usage"
)

// hotPartitions are store partitions written on every gateway request whose loss in an
// abrupt kill costs at most 100 ms of enforcement slack: quota counters and cached
// responses. Usage records, the billing ledger, are always committed to the store.
var hotPartitions = []string{"QUOTA#", "CACHE#"}

// spoolParkAfter is how many failed writes in a row set a spool's records aside (about
// 15 s with the spools' backoff).
const spoolParkAfter = 10

// DefaultUsageLinger is how long the usage spool gathers records for one ledger write
// while requests keep coming (Config.UsageLinger).
const DefaultUsageLinger = 5 * time.Millisecond

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
	// UsageLinger is how long the usage spool's drainer gathers records, while they keep
	// coming, before one ledger write (one store commit) carries them all (default
	// DefaultUsageLinger; negative: none, a commit per record). Records are on disk
	// before the request ends either way; usage queries see them up to this much later.
	UsageLinger time.Duration
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
	// GuardrailEmbeddingModel, when set, matches denied topics semantically with this
	// registry embedding model (PLINTH_GUARDRAIL_EMBEDDING_MODEL).
	GuardrailEmbeddingModel string
	// KMS holds silo tenants' keys (default: the key files of KeysDir(DataDir)).
	KMS kms.KeyManager
	// KeyCacheTTL is how long a silo tenant's unwrapped data key is used before KMS is
	// asked again (default kms.DefaultCacheTTL): a disabled key stops reads within it.
	KeyCacheTTL time.Duration
	// Central, when configured, is the central platform to pull the model registry and
	// guardrail baseline from, at start-up and every Central.Interval (CentralFromEnv).
	Central federation.Source
}

var (
	_ Flows     = inprocess.Flows{}
	_ Schedules = (*inprocess.Schedules)(nil)
)

// LocalRuntime is the local platform's backends and what runs them in this process: the
// embedded store (bbolt, with a write-behind memory tier), the data directory's blobs,
// environment-variable secrets, the embedded flow executor, the in-process scheduler and
// the usage spool.
type LocalRuntime struct {
	Backends Backends
	Executor *flow.Executor
	// Schedules runs evaluation schedules in process.
	Schedules *inprocess.Schedules

	cfg Config
	// running stop what runs on the platform (loops, the executor); closers release the
	// backends (spool, store) after the platform is closed. Both in closing order.
	running []func(context.Context) error
	closers []func(context.Context) error
}

// NewLocalRuntime opens (or creates) the platform's data in cfg.DataDir. Close it after
// the platform built on it.
func NewLocalRuntime(cfg Config) (*LocalRuntime, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("platform: DataDir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := tightenDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	r := &LocalRuntime{cfg: cfg}
	ok := false
	defer func() {
		if !ok {
			_ = r.Close(context.Background())
		}
	}()
	b := Backends{Clock: cfg.Clock, Log: cfg.Logger, Secrets: secret.Env, IngestOnUpload: true,
		Router: cfg.RouterOptions, Deployments: cfg.DeploymentOptions, GuardrailEmbeddingModel: cfg.GuardrailEmbeddingModel,
		Central: cfg.Central}
	if b.Clock == nil {
		b.Clock = time.Now
	}
	if b.Log == nil {
		b.Log = slog.Default()
	}

	st := cfg.Store
	if st == nil {
		storeOpts := []boltstore.Option{boltstore.WithClock(b.Clock)}
		if !cfg.Fsync {
			storeOpts = append(storeOpts, boltstore.WithNoSync())
		}
		bs, err := boltstore.Open(filepath.Join(cfg.DataDir, "plinth.db"), storeOpts...)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		r.closers = append([]func(context.Context) error{func(context.Context) error { return bs.Close() }}, r.closers...)
		st = bs
		if !cfg.Fsync {
			// Quota counters and cached responses are written on every request; in this
			// single process (bbolt locks its file) memory is their authoritative copy,
			// persisted every 100 ms and on shutdown.
			ts := tiered.New(bs, tiered.WithPrefixes(hotPartitions...), tiered.WithLogger(b.Log), tiered.WithClock(b.Clock),
				tiered.WithMaxItems(5_000), tiered.WithMaxBytes(4<<20))
			r.closers = append([]func(context.Context) error{ts.Close}, r.closers...)
			st = ts
		}
	}
	blobs := cfg.Blobs
	if blobs == nil {
		fs, err := fsblob.New(filepath.Join(cfg.DataDir, "blobs"))
		if err != nil {
			return nil, fmt.Errorf("open blob store: %w", err)
		}
		blobs = fs
	}
	pool := Cell{Store: st, Blobs: Buckets{Documents: blobs, Index: blobs, Eval: blobs, Customization: blobs, CustomizationName: "local"},
		IndexCacheDir: filepath.Join(cfg.DataDir, "index-cache")}
	// Silo tenants' records and objects live in cells of their own under
	// <data dir>/tenants/<tenant>/; the platform's own records and pool tenants' stay here.
	keys := cfg.KMS
	if keys == nil {
		fk, err := filekms.New(KeysDir(cfg.DataDir), filekms.WithClock(b.Clock))
		if err != nil {
			return nil, err
		}
		keys = fk
	}
	ttl := cfg.KeyCacheTTL
	if ttl == 0 {
		ttl = kms.DefaultCacheTTL
	}
	silos := &localSilos{dir: filepath.Join(cfg.DataDir, "tenants"), fsync: cfg.Fsync, clock: b.Clock, keys: keys, cacheTTL: ttl}
	r.closers = append(r.closers, silos.Close)
	b.Cells = NewTenantCells(pool, silos, b.Log)
	b.Data = b.Cells.Routed()
	routed := b.Data.Store

	// Usage records, the billing ledger, are spooled to disk before the request ends and
	// drained into the store with retries: neither a killed process nor a failing store
	// loses one, and replays count once. Records a write keeps refusing (a silo tenant
	// whose key was deleted) are set aside and retried apart, so they hold up no other
	// tenant's.
	spoolOpts := []filespool.Option{filespool.WithLogger(b.Log), filespool.WithParking(spoolParkAfter)}
	if cfg.Fsync {
		spoolOpts = append(spoolOpts, filespool.WithSync())
	}
	linger := cfg.UsageLinger
	if linger == 0 {
		linger = DefaultUsageLinger
	}
	spool, err := filespool.Open(filepath.Join(cfg.DataDir, "usage-spool"), usage.NewLedger(routed, 0).Write,
		append(spoolOpts, filespool.WithLinger(linger))...)
	if err != nil {
		return nil, fmt.Errorf("open usage spool: %w", err)
	}
	r.closers = append([]func(context.Context) error{spool.Close}, r.closers...)
	b.UsageSpool = spool
	// Audit events likewise: spooled before the action's response ends, appended to the
	// log exactly once.
	auditSpool, err := filespool.Open(filepath.Join(cfg.DataDir, "audit-spool"), audit.Store(storelog.New(st), b.Log), spoolOpts...)
	if err != nil {
		return nil, fmt.Errorf("open audit spool: %w", err)
	}
	r.closers = append([]func(context.Context) error{auditSpool.Close}, r.closers...)
	b.AuditSpool = auditSpool

	r.Executor = flow.NewExecutor(flow.WithStore(flow.NewStoreBacked(routed, flow.WithOwner(executionOwner))), flow.WithLogger(b.Log))
	r.running = append(r.running, r.Executor.Close)
	b.Flows = inprocess.Flows{Exec: r.Executor}
	r.Schedules = inprocess.NewSchedules(b.Flows, b.Log)
	b.Schedules = r.Schedules
	r.Backends = b
	ok = true
	return r, nil
}

// Stop stops what runs on the platform: the background loops, then the executor.
func (r *LocalRuntime) Stop(ctx context.Context) error {
	var errs []error
	for _, c := range r.running {
		errs = append(errs, c(ctx))
	}
	r.running = nil
	return errors.Join(errs...)
}

// Close stops what runs (Stop), then closes the usage and audit spools and the store. Close the
// platform built on the runtime in between: Local.Close does.
func (r *LocalRuntime) Close(ctx context.Context) error {
	errs := []error{r.Stop(ctx)}
	for _, c := range r.closers {
		errs = append(errs, c(ctx))
	}
	r.closers = nil
	return errors.Join(errs...)
}

// Edge admits tenants by API key (or SigV4 with the configured credentials), and the
// admin API's callers by the admin key, platform keys, tenants' keys or SigV4; the access
// policy behind it decides what each may call.
func (r *LocalRuntime) Edge(p *Platform, adminKey string) Edge {
	var (
		authOpts []tenantauth.Option
		verifier *sigv4.Verifier
	)
	if len(r.cfg.SigV4) > 0 {
		region := r.cfg.Region
		if region == "" {
			region = "us-east-1"
		}
		verifier = sigv4.NewVerifier(region, "execute-api", r.cfg.SigV4)
		authOpts = append(authOpts, tenantauth.WithSigV4(verifier))
	}
	return Edge{
		Tenants:  tenantauth.New(p.Tenants, authOpts...),
		Admin:    func(next http.Handler) http.Handler { return adminAuth(adminKey, p.Tenants, verifier, next) },
		MCPOAuth: r.cfg.MCPOAuth,
	}
}

// Serve runs the whole platform p in this process: the built-in models and the demo
// tenant seeded, every API on one handler, the state machines on the embedded executor,
// evaluation schedules in process, and the inbox watched for documents to ingest.
func (r *LocalRuntime) Serve(ctx context.Context, p *Platform) (*Local, error) {
	cfg := r.cfg
	l := &Local{Platform: p, runtime: r, Executor: r.Executor, Store: p.b.Data.Store, Blobs: p.b.Data.Blobs.Documents}
	var err error
	if l.AdminKey, err = secretFile(cfg.AdminKey, filepath.Join(cfg.DataDir, "admin-key"), "adm-"); err != nil {
		return nil, err
	}
	if err := p.Registry.SeedBuiltins(ctx); err != nil {
		return nil, err
	}
	if l.DemoKey, err = seedDemo(ctx, p.Tenants, filepath.Join(cfg.DataDir, "demo-key")); err != nil {
		return nil, err
	}
	if l.Gateway, err = Gateway(p); err != nil {
		return nil, err
	}
	if l.RAG, err = RAG(p); err != nil {
		return nil, err
	}
	if l.Eval, err = Eval(p); err != nil {
		return nil, err
	}
	if l.HumanEval, err = HumanEval(p); err != nil {
		return nil, err
	}
	tools, err := Tools(p)
	if err != nil {
		return nil, err
	}
	l.Tools, l.ToolHub = tools.Catalog, tools.Hub
	if l.Customize, err = Customize(p); err != nil {
		return nil, err
	}
	if err := RunFlows(ctx, p, r.Executor); err != nil {
		return nil, err
	}
	apis := append(AllAPIs(), ExecutionsAPI(r.Executor))
	if l.Handler, err = Handler(p, r.Edge(p, l.AdminKey), apis...); err != nil {
		return nil, err
	}
	if err := SyncSchedules(ctx, p); err != nil {
		p.log.Warn("evaluation schedules", "error", err)
	}
	var central *federation.Local
	if cfg.Central.Configured() {
		// Decentralised: the centre's registry and baseline before the first request; a
		// centre that cannot be reached is logged and retried on the schedule.
		if central, err = federationLocal(p); err != nil {
			return nil, err
		}
		reportSync(p)(federation.SyncOnce(ctx, cfg.Central, central))
	}

	// Background loops stop, and are waited for, before anything they use is closed.
	bg, cancel := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	r.running = append([]func(context.Context) error{func(context.Context) error {
		cancel()
		loops.Wait()
		return nil
	}}, r.running...)
	loops.Add(2)
	go func() { defer loops.Done(); r.Schedules.Run(bg) }()
	go func() { defer loops.Done(); l.watchInbox(bg, filepath.Join(cfg.DataDir, "inbox"), 2*time.Second) }()
	if central != nil {
		loops.Add(1)
		go func() {
			defer loops.Done()
			src := cfg.Central
			interval := src.Interval
			if interval <= 0 {
				interval = 5 * time.Minute
			}
			for {
				select {
				case <-bg.Done():
					return
				case <-time.After(interval):
				}
				reportSync(p)(federation.SyncOnce(bg, src, central))
			}
		}()
	}
	return l, nil
}

// Local is the whole platform in one process. Its Platform's Registry, Tenants, Usage,
// Audit and AuditLog are promoted.
type Local struct {
	*Platform
	Handler  http.Handler
	AdminKey string
	// DemoKey is the demo tenant's API key.
	DemoKey string

	Store store.Store
	Blobs blob.Store
	// Gateway is the model gateway service: platform features call it directly.
	Gateway  *gateway.Gateway
	Executor *flow.Executor
	RAG      *rag.Service
	Eval     *eval.Service
	// HumanEval holds review queues, reviews and ground-truth datasets.
	HumanEval *humaneval.Service
	// Tools is the tool catalog; ToolHub calls tools for /mcp and agents.
	Tools   *toolhub.Service
	ToolHub *toolhub.Hub
	// Customize runs fine-tuning: datasets, jobs, the customisation flow.
	Customize *customize.Service

	runtime *LocalRuntime
}

// NewLocal is the local platform's whole story in one call: its backends in
// cfg.DataDir (NewLocalRuntime), the platform built on them (New), served (Serve).
func NewLocal(ctx context.Context, cfg Config) (*Local, error) {
	r, err := NewLocalRuntime(cfg)
	if err != nil {
		return nil, err
	}
	p, err := New(ctx, r.Backends)
	if err != nil {
		_ = r.Close(ctx)
		return nil, err
	}
	l, err := r.Serve(ctx, p)
	if err != nil {
		_ = p.Close(ctx)
		_ = r.Close(ctx)
		return nil, err
	}
	return l, nil
}

// Close stops the background loops and the executor, flushes usage and audit events,
// and closes the spool and the store.
func (l *Local) Close(ctx context.Context) error {
	return errors.Join(l.runtime.Stop(ctx), l.Platform.Close(ctx), l.runtime.Close(ctx))
}

// seedDemo creates the demo tenant and its key on first start; the key is kept in a
// private file in the data directory so later starts can print it again.
func seedDemo(ctx context.Context, tenants *tenant.Service, keyFile string) (string, error) {
	if b, err := os.ReadFile(keyFile); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if _, err := tenants.CreateTenant(ctx, tenant.Tenant{ID: DemoTenant, Name: "Demo", Tags: map[string]string{"cost-center": "demo"}}); err != nil && !errors.Is(err, tenant.ErrExists) {
		return "", fmt.Errorf("seed demo tenant: %w", err)
	}
	_, secret, err := tenants.CreateKey(ctx, DemoTenant, tenant.KeyOptions{Name: "demo"})
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
