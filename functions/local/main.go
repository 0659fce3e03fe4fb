// Command local runs the whole Plinth platform in one process with embedded defaults:
// the gateway and every API on one address, data in a local directory, the built-in
// local models, state machines on the embedded executor. No AWS account is needed.
//
//	go run ./functions/local                 serve (PLINTH_ADDR, PLINTH_DATA, PLINTH_ADMIN_KEY)
//	go run ./functions/local flow run -f F   run a state machine file once (see flow run -h)
//	go run ./functions/local env             print PLINTH, ADMIN and KEY as shell exports
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/mcpgw"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "flow":
			os.Exit(runFlow(os.Args[2:]))
		case "env":
			os.Exit(runEnv(os.Stdout, os.Stderr))
		}
	}
	if err := serve(); err != nil {
		fmt.Fprintln(os.Stderr, "plinth:", err)
		os.Exit(1)
	}
}

// defaultAddr is where the platform listens when PLINTH_ADDR is unset.
const defaultAddr = "127.0.0.1:8080"

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// usageLinger parses PLINTH_USAGE_LINGER: a duration ("5ms"), "0" for none, unset for
// the default.
func usageLinger(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("PLINTH_USAGE_LINGER=%q: want a duration such as 5ms, or 0", v)
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}

func serve() error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	addr := env("PLINTH_ADDR", defaultAddr)
	creds, err := sigV4Credentials(os.Getenv("PLINTH_SIGV4_CREDENTIALS"))
	if err != nil {
		return err
	}
	oauth, err := mcpOAuth(addr)
	if err != nil {
		return err
	}
	linger, err := usageLinger(os.Getenv("PLINTH_USAGE_LINGER"))
	if err != nil {
		return err
	}
	// Decentralised mode: the central registry and guardrail baseline, pulled on a schedule.
	central, err := platform.CentralFromEnv(ctx)
	if err != nil {
		return err
	}
	// Backends: the embedded store, files, the embedded executor, all in PLINTH_DATA.
	rt, err := platform.NewLocalRuntime(platform.Config{
		Central:  central,
		DataDir:  env("PLINTH_DATA", ".plinth"),
		AdminKey: os.Getenv("PLINTH_ADMIN_KEY"),
		Fsync:    os.Getenv("PLINTH_FSYNC") == "1",
		// Usage records gathered per ledger write while requests keep coming.
		UsageLinger: linger,
		SigV4:       creds,
		Region:      env("AWS_REGION", "us-east-1"),
		Logger:      log,
		MCPOAuth:    oauth,
		// Denied topics match semantically with this registry embedding model.
		GuardrailEmbeddingModel: os.Getenv("PLINTH_GUARDRAIL_EMBEDDING_MODEL"),
	})
	if err != nil {
		return err
	}
	// Build: the one platform, as every Lambda function builds it.
	pl, err := platform.New(ctx, rt.Backends)
	if err != nil {
		_ = rt.Close(ctx)
		return err
	}
	// Serve: all of it, from this process.
	p, err := rt.Serve(ctx, pl)
	if err != nil {
		_ = pl.Close(ctx)
		_ = rt.Close(ctx)
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = p.Close(context.Background())
		return fmt.Errorf("listen on %s (set PLINTH_ADDR to another address): %w", addr, err)
	}
	srv := platform.NewHTTPServer(p.Handler, platform.WithServerLogger(log))
	banner(ln.Addr().String(), p)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		_ = p.Close(context.Background())
		return err
	case <-ctx.Done():
	}
	// Drain: stop accepting, let in-flight requests (streams included) finish, then flush
	// usage records and close the store.
	log.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serr := srv.Shutdown(shutdownCtx)
	if errors.Is(serr, context.DeadlineExceeded) {
		log.Warn("drain timed out; closing remaining connections")
		_ = srv.Close()
	}
	if err := p.Close(shutdownCtx); err != nil {
		return fmt.Errorf("close platform: %w", err)
	}
	log.Info("stopped")
	return nil
}

// sigV4Credentials reads a JSON file of credentials clients may sign requests with:
// [{"access_key_id":"…","secret_access_key":"…","principal_arn":"arn:aws:iam::…:role/…"}],
// with "session_token" for a temporary credential (requests must then carry it).
func sigV4Credentials(path string) ([]sigv4.Credential, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("PLINTH_SIGV4_CREDENTIALS: %w", err)
	}
	var raw []struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
		SessionToken    string `json:"session_token"`
		PrincipalARN    string `json:"principal_arn"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("PLINTH_SIGV4_CREDENTIALS %s: %w", path, err)
	}
	out := make([]sigv4.Credential, 0, len(raw))
	for i, c := range raw {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.PrincipalARN == "" {
			return nil, fmt.Errorf("PLINTH_SIGV4_CREDENTIALS %s: entry %d needs access_key_id, secret_access_key and principal_arn", path, i)
		}
		out = append(out, sigv4.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, PrincipalARN: c.PrincipalARN})
	}
	return out, nil
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(env("PLINTH_LOG_LEVEL", "info"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func banner(addr string, p *platform.Local) {
	base := baseURL(addr)
	fmt.Fprintf(os.Stdout, `Plinth is running at %[1]s

  admin key  %[2]s
  demo key   %[3]s   (tenant %[4]q)
  models     local-chat (extractive, built in), local-embed (lexical hashing, built in)

In another terminal, in this directory, set PLINTH, ADMIN and KEY:
  eval "$(make -s env)"
or
  export PLINTH=%[1]s ADMIN=%[2]s KEY=%[3]s
then
  curl -s $PLINTH/v1/models -H "Authorization: Bearer $KEY"
  OPENAI_BASE_URL=$PLINTH/v1 OPENAI_API_KEY=$KEY  (any OpenAI SDK)

`, base, p.AdminKey, p.DemoKey, platform.DemoTenant)
}

// mcpOAuth configures /mcp as an OAuth resource server when PLINTH_MCP_OAUTH_ISSUER and
// PLINTH_MCP_OAUTH_JWKS_URL are set (PLINTH_MCP_RESOURCE defaults to this address's /mcp).
func mcpOAuth(addr string) (*mcpgw.OAuthConfig, error) {
	return accesstoken.ConfigFromEnv(os.Getenv, "http://"+addr+"/mcp")
}
