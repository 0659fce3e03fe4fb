package mcpgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/toolhub"
)

// Gateway serves /mcp.
type Gateway struct {
	hub      *toolhub.Hub
	authn    gateway.Authenticator
	oauth    *OAuth
	log      *slog.Logger
	maxBody  int64
	timeout  time.Duration
	listTTL  time.Duration
	handler  http.Handler
	sessions *sessionSet

	mu    sync.Mutex
	cache map[string]*cachedServer
}

// Option configures a Gateway.
type Option func(*Gateway)

// WithOAuth accepts OAuth 2.1 access tokens for this resource besides API keys.
func WithOAuth(o *OAuth) Option { return func(g *Gateway) { g.oauth = o } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(g *Gateway) { g.log = l } }

// WithSessionTimeout closes sessions idle this long (default 10 minutes).
func WithSessionTimeout(d time.Duration) Option { return func(g *Gateway) { g.timeout = d } }

// WithMaxBodyBytes caps request bodies (default 4 MiB).
func WithMaxBodyBytes(n int64) Option { return func(g *Gateway) { g.maxBody = n } }

// New returns the gateway. authn authenticates API keys and SigV4 as on /v1.
func New(hub *toolhub.Hub, authn gateway.Authenticator, opts ...Option) *Gateway {
	if hub == nil || authn == nil {
		panic("mcpgw.New: nil hub or authenticator")
	}
	g := &Gateway{hub: hub, authn: authn, maxBody: 4 << 20, timeout: 10 * time.Minute, listTTL: 5 * time.Second,
		cache: map[string]*cachedServer{}}
	for _, o := range opts {
		o(g)
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	g.sessions = newSessionSet(g)
	stateful := mcp.NewStreamableHTTPHandler(g.sessionServer, &mcp.StreamableHTTPOptions{
		SessionTimeout:      g.timeout,
		EventStore:          boundedEventStore(),
		MaxRequestBodyBytes: g.maxBody,
		Logger:              g.log,
	})
	stateless := mcp.NewStreamableHTTPHandler(g.requestServer, &mcp.StreamableHTTPOptions{
		Stateless:                    true,
		MaxRequestBodyBytes:          g.maxBody,
		PropagateRequestCancellation: true,
		Logger:                       g.log,
	})
	bind := auth.RequireBearerToken(bindSession, nil)
	g.handler = plainErrors(g.authenticate(bind(Dispatch(stateful, stateless, g.maxBody))))
	return g
}

// Routes mounts /mcp and the protected resource metadata on mux.
func (g *Gateway) Routes(mux *http.ServeMux) {
	mux.Handle("POST /mcp", g.handler)
	mux.Handle("GET /mcp", g.handler)
	mux.Handle("DELETE /mcp", g.handler)
	mux.Handle("GET /.well-known/oauth-protected-resource/mcp", http.HandlerFunc(g.metadata))
}

// metadata serves the protected resource metadata (RFC 9728) of /mcp: the resource and
// the authorization servers whose tokens it accepts (none when OAuth is not configured,
// so clients know to use an API key).
func (g *Gateway) metadata(w http.ResponseWriter, r *http.Request) {
	md := &oauthex.ProtectedResourceMetadata{BearerMethodsSupported: []string{"header"}, ResourceName: "Plinth MCP gateway"}
	if g.oauth != nil {
		md.Resource, md.AuthorizationServers, md.ScopesSupported = g.oauth.cfg.Resource, []string{g.oauth.cfg.Issuer}, g.oauth.cfg.Scopes
	} else {
		scheme := "http"
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			scheme = "https"
		}
		md.Resource = scheme + "://" + r.Host + "/mcp"
	}
	w.Header().Set("Cache-Control", "max-age=300")
	httpapi.WriteJSON(w, http.StatusOK, md)
}

// Close stops the session watcher and closes every open session.
func (g *Gateway) Close() { g.sessions.close() }

func boundedEventStore() *mcp.MemoryEventStore {
	s := mcp.NewMemoryEventStore(nil)
	s.SetMaxBytes(8 << 20)
	return s
}

type callerKey struct{}

func withCaller(ctx context.Context, c *toolhub.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) (*toolhub.Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*toolhub.Caller)
	return c, ok
}

// authenticate admits requests with an API key, a SigV4 signature or (when configured) an
// OAuth access token for this resource, answering 401 with the metadata pointer otherwise.
func (g *Gateway) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				g.log.ErrorContext(r.Context(), "panic serving /mcp", "panic", fmt.Sprint(v), "request_id", httpapi.RequestID(r.Context()))
				httpapi.WriteError(w, httpapi.Errorf(http.StatusInternalServerError, httpapi.CodeInternal, "internal error"))
			}
		}()
		c, err := g.caller(r)
		if err != nil {
			if g.oauth != nil {
				w.Header().Set("WWW-Authenticate", g.oauth.challenge(r, err))
			}
			var he *httpapi.Error
			if !errors.As(err, &he) {
				g.log.ErrorContext(r.Context(), "authentication unavailable", "error", err)
				err = &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeServiceUnavailable,
					Message: "credentials cannot be checked right now; retry shortly", RetryAfter: time.Second}
			}
			httpapi.WriteError(w, err)
			return
		}
		c.RequestID = httpapi.RequestID(r.Context())
		// The SDK binds a session to the token's user: the bearer it sees is the caller's
		// identity, and the client's own credential goes no further.
		r = r.Clone(withCaller(r.Context(), c))
		r.Header.Set("Authorization", "Bearer "+principalKey(c))
		next.ServeHTTP(w, r)
	})
}

func (g *Gateway) caller(r *http.Request) (*toolhub.Caller, error) {
	if g.oauth != nil {
		if tok, ok := bearer(r); ok && accesstoken.LooksLikeJWT(tok) {
			return g.oauth.verify(r.Context(), tok)
		}
	}
	c, err := g.authn.Authenticate(r)
	if err != nil {
		return nil, err
	}
	return &toolhub.Caller{Principal: c.Principal, Tenant: c.Tenant}, nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// principalKey identifies a principal: the owner of the sessions it opens.
func principalKey(c *toolhub.Caller) string {
	if c.Principal.Admin {
		return "admin." + c.Principal.KeyID
	}
	return c.Principal.TenantID + "." + c.Principal.KeyID
}

// bindSession hands the SDK the authenticated principal as the token's user, so a session
// answers only the principal that opened it.
func bindSession(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	c, ok := callerFrom(ctx)
	if !ok || token != principalKey(c) {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{UserID: token, Expiration: time.Now().Add(time.Hour)}, nil
}
