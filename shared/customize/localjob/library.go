package localjob

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/customize/localtune"
	"github.com/plinth-ai/plinth/shared/provider"
)

// ArtifactResolver returns the blob key of a fine-tuned local-tune model's weights
// (its registry lineage's artifact).
type ArtifactResolver func(ctx context.Context, modelID string) (string, error)

// Library loads local-tune models: the untrained base by name, fine-tuned ones from
// their artefact in the blob store. It keeps the most recently used in memory (a model
// holds about 4 MB of weights).
type Library struct {
	blobs    blob.Store
	resolve  ArtifactResolver
	capacity int

	mu    sync.Mutex
	base  *localtune.Model
	lru   *list.List
	cache map[string]*list.Element
}

type cached struct {
	id       string
	artifact string
	model    *localtune.Model
}

// NewLibrary returns a library keeping up to capacity fine-tuned models in memory.
// Without a blob store (a deployment with no customisation bucket) it serves the base
// model only.
func NewLibrary(blobs blob.Store, resolve ArtifactResolver, capacity int) *Library {
	if resolve == nil {
		panic("localjob: nil artifact resolver")
	}
	return &Library{blobs: blobs, resolve: resolve, capacity: max(1, capacity), lru: list.New(), cache: map[string]*list.Element{}}
}

// Base returns the model named id: BaseModelID or a fine-tuned model's registry ID.
func (l *Library) Base(ctx context.Context, id string) (*localtune.Model, error) {
	if id == localtune.BaseModelID {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.base == nil {
			l.base = localtune.NewBase()
		}
		return l.base, nil
	}
	if l.blobs == nil {
		return nil, fmt.Errorf("model %s: fine-tuned local-tune models need the customisation bucket, which this deployment lacks", id)
	}
	artifact, err := l.resolve(ctx, id)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if el, ok := l.cache[id]; ok && el.Value.(*cached).artifact == artifact {
		l.lru.MoveToFront(el)
		m := el.Value.(*cached).model
		l.mu.Unlock()
		return m, nil
	}
	l.mu.Unlock()
	rc, _, err := l.blobs.Get(ctx, artifact)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", id, err)
	}
	defer rc.Close()
	m, err := localtune.Load(rc)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", id, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.cache[id]; ok {
		l.lru.Remove(el)
	}
	l.cache[id] = l.lru.PushFront(&cached{id: id, artifact: artifact, model: m})
	for l.lru.Len() > l.capacity {
		old := l.lru.Back()
		l.lru.Remove(old)
		delete(l.cache, old.Value.(*cached).id)
	}
	return m, nil
}

// Chat returns the model named id as a chat model reporting that name.
func (l *Library) Chat(ctx context.Context, id string) (provider.ChatModel, error) {
	m, err := l.Base(ctx, id)
	if err != nil {
		return nil, err
	}
	return localtune.NewChat(m, id), nil
}

// Serve returns a chat model that loads id on its first request, for the router:
// loading needs the request's context, and a model the store cannot give back fails
// that request as unavailable instead of failing the deployment's construction.
func (l *Library) Serve(id string) provider.ChatModel { return &lazyChat{lib: l, id: id} }

type lazyChat struct {
	lib *Library
	id  string
}

func (c *lazyChat) model(ctx context.Context) (provider.ChatModel, error) {
	m, err := c.lib.Chat(ctx, c.id)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: "local", Message: "load " + c.id + ": " + err.Error(), Err: err}
	}
	return m, nil
}

// Chat implements provider.ChatModel.
func (c *lazyChat) Chat(ctx context.Context, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	m, err := c.model(ctx)
	if err != nil {
		return nil, err
	}
	return m.Chat(ctx, req)
}

// ChatStream implements provider.ChatModel.
func (c *lazyChat) ChatStream(ctx context.Context, req *provider.ChatRequest) (provider.Stream, error) {
	m, err := c.model(ctx)
	if err != nil {
		return nil, err
	}
	return m.ChatStream(ctx, req)
}
