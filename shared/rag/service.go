// Package rag holds Plinth's knowledge bases: per-tenant document collections that are
// ingested by the ingestion state machine (extract → chunk → embed → index), searched by
// the embedded hybrid index (or S3 Vectors for the dense half), and used to ground answers
// with numbered citations.
//
// Storage layout in the blob store:
//
//	tenants/{tenant}/kb/{kb}/{name}                  uploaded documents (S3 events start ingestion)
//	tenants/{tenant}/kb/{kb}/{name}.metadata.json    optional sidecar {"metadataAttributes":{…}}
//	indexes/{tenant}/{kb}/…                          index segments and manifests (see package index)
//	work/{tenant}/{kb}/{document}/{hash}/…           ingestion intermediates between flow states
//
// Knowledge bases and documents are items in the store port: partition "RAGKB#{tenant}"
// (sort key: KB ID) and "RAGDOC#{tenant}#{kb}" (sort key: document ID).
package rag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/idpattern"
	"github.com/plinth-ai/plinth/shared/rag/chunk"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/store"
)

// Sentinel errors; HTTP handlers map them with errors.Is.
var (
	// ErrNotFound means the knowledge base or document does not exist for the tenant.
	ErrNotFound = fault.Sentinel("rag: not found", fault.ErrNotFound)
	// ErrExists means a knowledge base with the ID already exists.
	ErrExists = fault.Sentinel("rag: already exists", fault.ErrExists)
	// ErrInvalid means a request is malformed.
	ErrInvalid = fault.Sentinel("rag: invalid request", fault.ErrInvalid)
	// ErrNoEmbedder means no embedding model is bound for the knowledge base.
	ErrNoEmbedder = errors.New("rag: no embedding model available")
	// ErrTooLarge means a document is over the size limit of a knowledge-base document.
	ErrTooLarge = fault.Sentinel("rag: document too large", fault.ErrInvalid)
	// ErrAmbiguous means a knowledge base ID given without a tenant names knowledge bases
	// of several tenants.
	ErrAmbiguous = fault.Sentinel("rag: several tenants have the knowledge base", fault.ErrAmbiguous)
	// ErrNoChatModel means Answer has no chat model bound.
	ErrNoChatModel = errors.New("rag: no chat model available")
)

// Document statuses.
const (
	StatusPending = "pending"
	StatusIndexed = "indexed"
	StatusFailed  = "failed"
)

// Index backends.
const (
	BackendEmbedded  = "embedded"
	BackendS3Vectors = "s3vectors"
)

// DefaultEmbeddingModel is the built-in local embedder's registry ID.
const DefaultEmbeddingModel = "local-embed"

// NoEmbedding as a knowledge base's embedding model makes it lexical-only.
const NoEmbedding = "none"

// Embedder turns texts into vectors. inputType is "search_document" or "search_query".
type Embedder interface {
	Embed(ctx context.Context, texts []string, inputType string) ([][]float32, error)
}

// EmbedderFunc adapts a function to Embedder.
type EmbedderFunc func(ctx context.Context, texts []string, inputType string) ([][]float32, error)

// Embed implements Embedder.
func (f EmbedderFunc) Embed(ctx context.Context, texts []string, inputType string) ([][]float32, error) {
	return f(ctx, texts, inputType)
}

// EmbedderResolver returns the embedder of a tenant's embedding model (from the registry,
// charged to the tenant).
type EmbedderResolver func(ctx context.Context, tenant, model string) (Embedder, error)

// ChatFunc generates a grounded answer for tenant through the gateway's chat service,
// with the tenant's model policy, quotas, guardrails and usage. The request's Messages
// are the asker's question; its Frame adds the platform's grounding prompt and sources,
// which the input guardrail does not judge as the asker's words.
type ChatFunc func(ctx context.Context, tenant string, req *gateway.ChatRequest) (*gateway.ChatResult, error)

// GroundingFunc scores how well an answer is supported by the sources (grounding) and
// answers the query (relevance), both in [0,1] (the guardrails' contextual grounding check).
type GroundingFunc func(answer string, sources []string, query string) (grounding, relevance float64)

// Starter starts the ingestion flow with an S3-shaped "Object Created"/"Object Deleted"
// event. In AWS the S3 → EventBridge rule starts it instead, so Starter may be nil there.
type Starter func(ctx context.Context, event json.RawMessage) error

// UsageFunc is told the tokens embedded for a tenant's knowledge base, to charge them.
type UsageFunc func(ctx context.Context, tenant, kb, model string, tokens int)

// Option configures a Service.
type Option func(*Service)

// WithEmbedders resolves each knowledge base's embedding model.
func WithEmbedders(r EmbedderResolver) Option { return func(s *Service) { s.embedders = r } }

// WithEmbedder uses one embedder for every knowledge base (tests, local mode).
func WithEmbedder(e Embedder) Option {
	return func(s *Service) {
		s.embedders = func(context.Context, string, string) (Embedder, error) { return e, nil }
	}
}

// WithChat binds the chat model Answer uses, and the model ID it asks for by default.
func WithChat(fn ChatFunc, defaultModel string) Option {
	return func(s *Service) { s.chat, s.chatModel = fn, defaultModel }
}

// WithGrounding adds a grounding check to Answer.
func WithGrounding(fn GroundingFunc) Option { return func(s *Service) { s.grounding = fn } }

// WithStarter binds how uploads start ingestion.
func WithStarter(fn Starter) Option { return func(s *Service) { s.starter = fn } }

// WithUsage charges embedding tokens.
func WithUsage(fn UsageFunc) Option { return func(s *Service) { s.usage = fn } }

// WithBucket names the bucket in events and source URIs (s3://bucket/key); default "local".
func WithBucket(name string) Option { return func(s *Service) { s.bucket = name } }

// WithBucketOf names, per tenant, the documents bucket its documents live in (a silo
// tenant's own bucket), for events and source URIs; an empty name means WithBucket's.
// A document recorded while its tenant's documents were elsewhere (before a move into a
// cell of its own) is shown with the bucket it lives in now.
func WithBucketOf(fn func(ctx context.Context, tenant string) string) Option {
	return func(s *Service) { s.bucketOf = fn }
}

// WithEmbedRetry sets the in-task retry policy for embedding calls: attempts and the first
// backoff (doubling each time). The state machine retries the whole task on top.
func WithEmbedRetry(attempts int, backoff time.Duration) Option {
	return func(s *Service) { s.embedAttempts, s.embedBackoff = max(attempts, 1), backoff }
}

// WithEmbedBatch sets how many chunks go to the embedder per call (default 64).
func WithEmbedBatch(n int) Option { return func(s *Service) { s.embedBatch = max(n, 1) } }

// DefaultMaxDocumentBytes caps a document, uploaded or dropped in the bucket, unless
// WithMaxDocumentBytes says otherwise.
const DefaultMaxDocumentBytes = 20 << 20

// WithMaxDocumentBytes caps documents, uploaded or dropped (default DefaultMaxDocumentBytes).
func WithMaxDocumentBytes(n int64) Option { return func(s *Service) { s.maxDoc = n } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithVectorIndexes sets the index manager of knowledge bases whose backend is s3vectors
// (a Manager built with index.WithVectorStore).
func WithVectorIndexes(m *index.Manager) Option { return func(s *Service) { s.vectorIndexes = m } }

// WithDefaultIndexBackend sets the index backend of knowledge bases created without one
// (default "embedded"); "s3vectors" needs WithVectorIndexes.
func WithDefaultIndexBackend(backend string) Option {
	return func(s *Service) { s.defaultBackend = backend }
}

// Service is the knowledge-base domain: admin, documents, ingestion tasks and retrieval.
type Service struct {
	store          store.Store
	blob           blob.Store
	indexes        *index.Manager
	vectorIndexes  *index.Manager
	defaultBackend string
	embedders      EmbedderResolver
	chat           ChatFunc
	chatModel      string
	grounding      GroundingFunc
	starter        Starter
	usage          UsageFunc
	bucket         string
	bucketOf       func(ctx context.Context, tenant string) string
	embedAttempts  int
	embedBackoff   time.Duration
	embedBatch     int
	maxDoc         int64
	limit          *limiter
	refs           References
	now            func() time.Time
	sleep          func(ctx context.Context, d time.Duration) error
}

// References check what a knowledge base names when it is created. Each returns nil or
// an error of package fault's kinds saying what is wrong; a nil check accepts anything.
type References struct {
	// Tenant checks that the owning tenant exists.
	Tenant func(ctx context.Context, id string) error
	// EmbeddingModel checks that a model ID or alias is an embedding model.
	EmbeddingModel func(ctx context.Context, id string) error
	// Tenants lists every tenant ID, for admin calls that name a knowledge base without
	// its tenant.
	Tenants func(ctx context.Context) ([]string, error)
}

// WithReferences validates a new knowledge base's tenant and embedding model.
func WithReferences(r References) Option { return func(s *Service) { s.refs = r } }

// NewService builds the service over the store, blob store and index manager.
func NewService(st store.Store, bs blob.Store, indexes *index.Manager, opts ...Option) *Service {
	if st == nil || bs == nil || indexes == nil {
		panic("rag: NewService needs a store, a blob store and an index manager")
	}
	s := &Service{store: st, blob: bs, indexes: indexes, bucket: "local", embedAttempts: 4, embedBackoff: 200 * time.Millisecond,
		embedBatch: 64, maxDoc: DefaultMaxDocumentBytes, now: time.Now, sleep: sleepCtx}
	for _, o := range opts {
		o(s)
	}
	return s
}

// KnowledgeBase is a tenant's document collection and how it is processed.
type KnowledgeBase struct {
	Tenant      string       `json:"tenant"`
	ID          string       `json:"id"`
	Name        string       `json:"name,omitempty"`
	Description string       `json:"description,omitempty"`
	Chunking    chunk.Config `json:"chunking"`
	// EmbeddingModel is a registry model ID of kind embedding, or "none" for lexical only.
	EmbeddingModel string `json:"embedding_model"`
	// IndexBackend is "embedded" (default) or "s3vectors" (dense vectors in S3 Vectors).
	IndexBackend string `json:"index_backend"`
	// MetadataSchema declares attribute types ("string", "number", "boolean",
	// "string_list"); uploads whose metadata contradicts it are refused.
	MetadataSchema map[string]string `json:"metadata_schema,omitempty"`
	// Hybrid tunes hybrid search; the defaults suit the built-in lexical embedder.
	Hybrid    *HybridConfig `json:"hybrid,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
}

// HybridConfig chooses how a knowledge base fuses lexical and semantic rankings: "convex"
// (weighted min-max normalised scores, the default) or "rrf" (reciprocal-rank fusion), and
// the lexical weight for convex fusion (default 0.8; about 0.5 suits neural embedders).
type HybridConfig struct {
	Fusion        string  `json:"fusion,omitempty"`
	LexicalWeight float64 `json:"lexical_weight,omitempty"`
}

var validID = idpattern.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func kbKey(tenant, kb string) store.Key { return store.Key{PK: "RAGKB#" + tenant, SK: kb} }

func docPK(tenant, kb string) string { return "RAGDOC#" + tenant + "#" + kb }

// CreateKnowledgeBase validates kb, fills defaults and stores it.
func (s *Service) CreateKnowledgeBase(ctx context.Context, kb KnowledgeBase) (KnowledgeBase, error) {
	if !validID.MatchString(kb.Tenant) {
		return KnowledgeBase{}, fault.New(ErrInvalid, "tenant", "tenant %q must be 1-64 letters, digits, '.', '_' or '-'", kb.Tenant)
	}
	if !validID.MatchString(kb.ID) {
		return KnowledgeBase{}, fault.New(ErrInvalid, "id", "knowledge base id %q must be 1-64 letters, digits, '.', '_' or '-'", kb.ID)
	}
	if kb.Name == "" {
		kb.Name = kb.ID
	}
	kb.Chunking = kb.Chunking.WithDefaults()
	if err := kb.Chunking.Validate(); err != nil {
		return KnowledgeBase{}, fault.New(ErrInvalid, "chunking", "chunking: %v", err)
	}
	if kb.EmbeddingModel == "" {
		kb.EmbeddingModel = DefaultEmbeddingModel
	}
	if kb.IndexBackend == "" {
		kb.IndexBackend = s.defaultBackend
	}
	switch kb.IndexBackend {
	case "":
		kb.IndexBackend = BackendEmbedded
	case BackendEmbedded:
	case BackendS3Vectors:
		if s.vectorIndexes == nil {
			return KnowledgeBase{}, fault.New(ErrInvalid, "index_backend", "index backend s3vectors is not configured on this platform; use embedded")
		}
	default:
		return KnowledgeBase{}, fault.New(ErrInvalid, "index_backend", "index_backend %q must be embedded or s3vectors", kb.IndexBackend)
	}
	if h := kb.Hybrid; h != nil {
		switch index.Fusion(h.Fusion) {
		case "", index.FusionConvex, index.FusionRRF:
		default:
			return KnowledgeBase{}, fault.New(ErrInvalid, "hybrid.fusion", "hybrid.fusion %q must be convex or rrf", h.Fusion)
		}
		if h.LexicalWeight < 0 || h.LexicalWeight > 1 {
			return KnowledgeBase{}, fault.New(ErrInvalid, "hybrid.lexical_weight", "hybrid.lexical_weight must be between 0 and 1")
		}
	}
	for k, t := range kb.MetadataSchema {
		switch t {
		case "string", "number", "boolean", "string_list":
		default:
			return KnowledgeBase{}, fault.New(ErrInvalid, "metadata_schema", "metadata_schema[%q] type %q must be string, number, boolean or string_list", k, t)
		}
	}
	if s.refs.Tenant != nil {
		if err := s.refs.Tenant(ctx, kb.Tenant); err != nil {
			return KnowledgeBase{}, fault.WithParam(err, "tenant")
		}
	}
	if s.refs.EmbeddingModel != nil && kb.EmbeddingModel != NoEmbedding {
		if err := s.refs.EmbeddingModel(ctx, kb.EmbeddingModel); err != nil {
			return KnowledgeBase{}, fault.WithParam(err, "embedding_model")
		}
	}
	kb.CreatedAt = s.now().UTC()
	data, err := json.Marshal(kb)
	if err != nil {
		return KnowledgeBase{}, err
	}
	_, err = s.store.Put(ctx, store.Item{Key: kbKey(kb.Tenant, kb.ID), Data: data}, store.WriteOptions{Cond: store.IfNotExists})
	if errors.Is(err, store.ErrConditionFailed) {
		return KnowledgeBase{}, fault.New(ErrExists, "id", "tenant %s already has a knowledge base %q; choose another id", kb.Tenant, kb.ID)
	}
	if err != nil {
		return KnowledgeBase{}, fmt.Errorf("create knowledge base %s/%s: %w", kb.Tenant, kb.ID, err)
	}
	return kb, nil
}

// GetKnowledgeBase returns one of the tenant's knowledge bases.
func (s *Service) GetKnowledgeBase(ctx context.Context, tenant, id string) (KnowledgeBase, error) {
	notFound := fault.New(ErrNotFound, "", "tenant %s has no knowledge base %q; list its knowledge bases with GET /admin/knowledge-bases?tenant=%s", tenant, id, tenant)
	if !validID.MatchString(tenant) || !validID.MatchString(id) {
		return KnowledgeBase{}, notFound
	}
	it, err := s.store.Get(ctx, kbKey(tenant, id))
	if errors.Is(err, store.ErrNotFound) {
		return KnowledgeBase{}, notFound
	}
	if err != nil {
		return KnowledgeBase{}, fmt.Errorf("get knowledge base %s/%s: %w", tenant, id, err)
	}
	var kb KnowledgeBase
	if err := json.Unmarshal(it.Data, &kb); err != nil {
		return KnowledgeBase{}, fmt.Errorf("decode knowledge base %s/%s: %w", tenant, id, err)
	}
	return kb, nil
}

// ListKnowledgeBases returns the tenant's knowledge bases in ID order.
func (s *Service) ListKnowledgeBases(ctx context.Context, tenant string) ([]KnowledgeBase, error) {
	if !validID.MatchString(tenant) {
		return nil, fault.New(ErrInvalid, "tenant", "tenant %q must be 1-64 letters, digits, '.', '_' or '-'", tenant)
	}
	items, err := s.store.Query(ctx, "RAGKB#"+tenant, store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list knowledge bases of %s: %w", tenant, err)
	}
	out := make([]KnowledgeBase, 0, len(items))
	for _, it := range items {
		var kb KnowledgeBase
		if err := json.Unmarshal(it.Data, &kb); err != nil {
			return nil, fmt.Errorf("decode knowledge base %s: %w", it.SK, err)
		}
		out = append(out, kb)
	}
	return out, nil
}

// DeleteKnowledgeBase removes a knowledge base, its documents, records and index.
func (s *Service) DeleteKnowledgeBase(ctx context.Context, tenant, id string) error {
	kb, err := s.GetKnowledgeBase(ctx, tenant, id)
	if err != nil {
		return err
	}
	docs, err := s.ListDocuments(ctx, tenant, id)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if err := s.DeleteDocument(ctx, tenant, id, d.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := s.indexManager(kb).Drop(ctx, tenant, id); err != nil {
		return err
	}
	return s.store.Delete(ctx, kbKey(tenant, id), store.WriteOptions{})
}

func (s *Service) indexManager(kb KnowledgeBase) *index.Manager {
	if kb.IndexBackend == BackendS3Vectors && s.vectorIndexes != nil {
		return s.vectorIndexes
	}
	return s.indexes
}

func (s *Service) openIndex(ctx context.Context, kb KnowledgeBase) (*index.Index, error) {
	return s.indexManager(kb).Open(ctx, kb.Tenant, kb.ID)
}

func (s *Service) embedder(ctx context.Context, kb KnowledgeBase) (Embedder, error) {
	if kb.EmbeddingModel == NoEmbedding {
		return nil, nil
	}
	if s.embedders == nil {
		return nil, fmt.Errorf("knowledge base %s/%s model %s: %w", kb.Tenant, kb.ID, kb.EmbeddingModel, ErrNoEmbedder)
	}
	e, err := s.embedders(ctx, kb.Tenant, kb.EmbeddingModel)
	if err != nil {
		return nil, fmt.Errorf("embedding model %s: %w", kb.EmbeddingModel, err)
	}
	if e == nil {
		return nil, fmt.Errorf("knowledge base %s/%s model %s: %w", kb.Tenant, kb.ID, kb.EmbeddingModel, ErrNoEmbedder)
	}
	return e, nil
}

// DocumentID is the stable ID of a document name in a knowledge base: re-uploading the
// same name replaces the document.
func DocumentID(tenant, kb, name string) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + kb + "\x00" + name))
	return "doc_" + hex.EncodeToString(h[:10])
}

// ObjectKey is where a document's bytes live.
func ObjectKey(tenant, kb, name string) string { return "tenants/" + tenant + "/kb/" + kb + "/" + name }

// SidecarSuffix names a document's metadata sidecar: "<file>.metadata.json".
const SidecarSuffix = ".metadata.json"

// validName checks a document name (a relative path inside the knowledge base).
func validName(name string) error {
	if name == "" || len(name) > 512 || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, SidecarSuffix) {
		return fault.New(ErrInvalid, "name", "document name %q must be a relative path of at most 512 bytes, not ending in / or %s", name, SidecarSuffix)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || len(part) > 255 {
			return fault.New(ErrInvalid, "name", "document name %q has an empty, '.' or '..' part or one longer than 255 bytes", name)
		}
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fault.New(ErrInvalid, "name", "document name %q has control characters or backslashes", name)
		}
	}
	return nil
}
