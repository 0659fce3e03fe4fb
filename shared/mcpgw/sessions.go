package mcpgw

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plinth-ai/plinth/shared/toolhub"
)

// sessionSet keeps each 2025-11-25 session's virtual server in step with the catalog:
// when tools are approved, revoked or granted, the session's server changes and the SDK
// tells the client with notifications/tools/list_changed.
type sessionSet struct {
	g     *Gateway
	probe *mcp.Server

	mu      sync.Mutex
	entries map[*mcp.Server]*sessionEntry
	started bool
	stop    chan struct{}
	done    chan struct{}
}

type sessionEntry struct {
	caller  *toolhub.Caller
	has     *features
	created time.Time
}

func newSessionSet(g *Gateway) *sessionSet {
	return &sessionSet{g: g, entries: map[*mcp.Server]*sessionEntry{}, stop: make(chan struct{}), done: make(chan struct{}),
		probe: mcp.NewServer(&mcp.Implementation{Name: Name, Version: "1.0.0"}, nil)}
}

type holderKey struct{}

// sessionServer is the stateful handler's getServer. The SDK also asks it for the
// protocol versions of requests within a session; those get a shared empty server.
func (g *Gateway) sessionServer(r *http.Request) *mcp.Server {
	if r.Header.Get(HeaderSessionID) != "" {
		return g.sessions.probe
	}
	if h, ok := r.Context().Value(holderKey{}).(*mcp.Server); ok && h != nil {
		return h
	}
	c, ok := callerFrom(r.Context())
	if !ok {
		return nil
	}
	view, err := g.hub.Visible(r.Context(), c)
	if err != nil {
		g.log.ErrorContext(r.Context(), "cannot read the caller's tools", "error", err)
		return nil
	}
	s, has := g.build(view)
	g.sessions.add(s, c, has)
	*r = *r.WithContext(context.WithValue(r.Context(), holderKey{}, s))
	return s
}

func (set *sessionSet) add(s *mcp.Server, c *toolhub.Caller, has *features) {
	set.mu.Lock()
	defer set.mu.Unlock()
	set.entries[s] = &sessionEntry{caller: c, has: has, created: time.Now()}
	if !set.started {
		set.started = true
		go set.watch()
	}
}

// watch re-syncs session servers when this process changes the catalog, and at the
// catalog cache's pace for changes made elsewhere; it drops servers whose sessions ended.
func (set *sessionSet) watch() {
	defer close(set.done)
	tick := time.NewTicker(set.g.listTTL)
	defer tick.Stop()
	for {
		select {
		case <-set.stop:
			return
		case <-set.g.hub.Catalog().Changed():
		case <-tick.C:
		}
		set.refresh()
	}
}

func (set *sessionSet) refresh() {
	set.mu.Lock()
	entries := make(map[*mcp.Server]*sessionEntry, len(set.entries))
	for s, e := range set.entries {
		entries[s] = e
	}
	set.mu.Unlock()
	for s, e := range entries {
		live := false
		for range s.Sessions() {
			live = true
			break
		}
		if !live && time.Since(e.created) > time.Minute {
			set.mu.Lock()
			delete(set.entries, s)
			set.mu.Unlock()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, err := set.g.hub.Visible(ctx, e.caller)
		cancel()
		if err != nil {
			continue
		}
		next := set.g.sync(s, v, e.has)
		set.mu.Lock()
		e.has = next
		set.mu.Unlock()
	}
}

func (set *sessionSet) close() {
	set.mu.Lock()
	started := set.started
	servers := make([]*mcp.Server, 0, len(set.entries))
	for s := range set.entries {
		servers = append(servers, s)
	}
	set.entries = map[*mcp.Server]*sessionEntry{}
	set.mu.Unlock()
	if started {
		select {
		case <-set.stop:
		default:
			close(set.stop)
		}
		<-set.done
	}
	for _, s := range servers {
		for ss := range s.Sessions() {
			_ = ss.Close()
		}
	}
}
