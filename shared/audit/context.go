package audit

import (
	"context"
	"sync"
)

// note is what handlers add to the event Middleware is building for their request.
type note struct {
	mu       sync.Mutex
	tenant   string
	resource string
	details  map[string]string
}

type noteKey struct{}

func withNote(ctx context.Context) (context.Context, *note) {
	n := &note{}
	return context.WithValue(ctx, noteKey{}, n), n
}

func noteFrom(ctx context.Context) *note {
	n, _ := ctx.Value(noteKey{}).(*note)
	return n
}

// SetTenant names the tenant the current request's action concerns, when the route
// cannot say it (e.g. revoking a key by its ID). Without Middleware it does nothing.
func SetTenant(ctx context.Context, tenant string) {
	if n := noteFrom(ctx); n != nil {
		n.mu.Lock()
		n.tenant = tenant
		n.mu.Unlock()
	}
}

// SetResource names what the current request's action applied to (e.g. the ID a create
// assigned). Without Middleware it does nothing.
func SetResource(ctx context.Context, resource string) {
	if n := noteFrom(ctx); n != nil {
		n.mu.Lock()
		n.resource = resource
		n.mu.Unlock()
	}
}

// SetDetail adds one identifier to the current request's event. Never pass secrets or
// content. Without Middleware it does nothing.
func SetDetail(ctx context.Context, key, value string) {
	if n := noteFrom(ctx); n != nil {
		n.mu.Lock()
		if n.details == nil {
			n.details = map[string]string{}
		}
		n.details[key] = value
		n.mu.Unlock()
	}
}
