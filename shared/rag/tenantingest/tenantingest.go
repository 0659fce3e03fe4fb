// Package tenantingest is a hybrid tenant's own document ingestion: the function the
// TenantStack deploys in the line of business's account (PLINTH_TASK=TenantIngest). S3
// event notifications of the tenant's documents bucket invoke it; it extracts and chunks
// a document with the platform's extractors and chunker, embeds the chunks through the
// CENTRAL platform's POST /v1/embeddings (OpenAI's wire format, signed with SigV4 as the
// function's role, which the central platform maps to the tenant), and writes them into
// the tenant's OWN index: the embedded index on S3 (the index bucket), or S3 Vectors for
// the dense half when the backend is s3vectors.
//
// There is no table in the tenant's account. What the central platform keeps as items,
// the tenant stack derives or keeps in its own buckets:
//
//	tenants/{tenant}/kb/{kb}/{name}                 documents (the bucket's layout names the knowledge base)
//	tenants/{tenant}/kb/{kb}/{name}.metadata.json   optional sidecar {"metadataAttributes":{…}}
//	indexes/{tenant}/{kb}/…                         the index (package index), in the index bucket
//	records/{tenant}/{kb}/{document}.json           the document's record, in the index bucket
//
// A knowledge base exists once a document is put under its prefix; it is chunked with the
// platform's default (fixed 300 tokens, 20 % overlap) and embedded with one model, the
// function's (PLINTH_EMBEDDING_MODEL, default local-embed). A document's ID is the
// platform's (rag.DocumentID), so its chunks are "{document}:{n}" in either backend.
//
// Every event is reconciled against the bucket as it is now rather than trusted: the
// current object is indexed when it exists and the document is removed when it does not,
// so late, repeated or reordered notifications (S3 delivers at least once, in no
// guaranteed order) converge on the bucket's state; a document that changed while it was
// being indexed is reconciled again, so the last write is always the newest version's
// (invocations for two versions may run at once). Re-indexing a document replaces its
// chunks (never duplicates them), and an object whose bytes and sidecar hash to the
// record's is not embedded again.
//
// Failures are loud: every chunk is embedded before anything is written, and any failure
// (the central gateway's 429 or 5xx after the in-call retries, a refused principal, a
// document that cannot be read or extracted) makes the invocation fail, so Lambda's
// asynchronous retries and then the function's on-failure destination keep the event; a
// document that cannot be extracted also gets a record with status "failed" and the
// reason.
package tenantingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/chunk"
	"github.com/plinth-ai/plinth/shared/rag/extract"
	"github.com/plinth-ai/plinth/shared/rag/index"
)

// Task is the PLINTH_TASK of the tenant stack's ingestion function.
const Task = "TenantIngest"

// Environment of the function (besides PLINTH_DOCUMENTS_BUCKET, PLINTH_INDEX_BUCKET,
// PLINTH_VECTOR_BUCKET and PLINTH_INDEX_BACKEND, as for the platform's functions).
const (
	EnvTenant         = "PLINTH_TENANT"
	EnvGatewayURL     = "PLINTH_GATEWAY_URL"
	EnvGatewayAuth    = "PLINTH_GATEWAY_AUTH"
	EnvGatewayRegion  = "PLINTH_GATEWAY_REGION"
	EnvEmbeddingModel = "PLINTH_EMBEDDING_MODEL"
)

// DefaultEmbeddingModel is the model chunks are embedded with when PLINTH_EMBEDDING_MODEL
// is unset: the central platform's built-in embedder, which every platform serves.
const DefaultEmbeddingModel = rag.DefaultEmbeddingModel

// Document statuses of a record.
const (
	StatusIndexed = "indexed"
	StatusFailed  = "failed"
)

// Record is what the tenant's index bucket keeps of one document.
type Record struct {
	Tenant       string `json:"tenant"`
	KB           string `json:"knowledge_base"`
	DocumentID   string `json:"document_id"`
	Name         string `json:"name"`
	Source       string `json:"source"`
	Status       string `json:"status"`
	Reason       string `json:"reason,omitempty"`
	ContentHash  string `json:"content_hash,omitempty"`
	ETag         string `json:"etag,omitempty"`
	Size         int64  `json:"size"`
	Chunks       int    `json:"chunks"`
	Model        string `json:"embedding_model"`
	IndexBackend string `json:"index_backend"`
	// UpdatedAt is when the record was written (the handler's clock).
	UpdatedAt time.Time `json:"updated_at"`
}

// RecordKey is where a document's record lives in the index bucket.
func RecordKey(tenant, kb, docID string) string {
	return "records/" + tenant + "/" + kb + "/" + docID + ".json"
}

// Config assembles a Handler.
type Config struct {
	// Tenant is the tenant the stack belongs to; documents of any other tenant are refused.
	Tenant string
	// Bucket is the documents bucket's name; events of other buckets are refused.
	Bucket string
	// Documents reads the documents bucket.
	Documents blob.Store
	// Records is the index bucket, where document records are kept.
	Records blob.Store
	// Indexes opens the tenant's knowledge-base indexes (with index.WithVectorStore for
	// the s3vectors backend).
	Indexes *index.Manager
	// IndexBackend is "embedded" or "s3vectors", as recorded.
	IndexBackend string
	// Embedder embeds chunks (the central gateway); Model is the model it is asked for.
	Embedder rag.Embedder
	Model    string
	// Chunking defaults to the platform's default chunking.
	Chunking chunk.Config
	// Batch is how many chunks go to one embeddings call (default 64).
	Batch int
	// MaxDocumentBytes caps a document (default rag.DefaultMaxDocumentBytes).
	MaxDocumentBytes int64
	// Clock stamps records (default time.Now).
	Clock func() time.Time
	// Log receives one line per document (default: discarded).
	Log *slog.Logger
}

// Handler handles the documents bucket's S3 event notifications.
type Handler struct {
	cfg Config
}

// New checks cfg and returns its Handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Tenant == "":
		return nil, errors.New("tenantingest: no tenant")
	case cfg.Documents == nil || cfg.Records == nil || cfg.Indexes == nil:
		return nil, errors.New("tenantingest: the documents bucket, the index bucket and the index are required")
	case cfg.Embedder == nil || cfg.Model == "":
		return nil, errors.New("tenantingest: an embedder and its model are required")
	}
	cfg.Chunking = cfg.Chunking.WithDefaults()
	if err := cfg.Chunking.Validate(); err != nil {
		return nil, fmt.Errorf("tenantingest: chunking: %w", err)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.MaxDocumentBytes <= 0 {
		cfg.MaxDocumentBytes = rag.DefaultMaxDocumentBytes
	}
	if cfg.IndexBackend == "" {
		cfg.IndexBackend = rag.BackendEmbedded
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg}, nil
}

// Outcome says what one event record did to its document.
type Outcome struct {
	Key        string `json:"key"`
	DocumentID string `json:"document_id"`
	// Action is "indexed", "unchanged" (same bytes and sidecar as indexed) or "removed".
	Action string `json:"action"`
	Chunks int    `json:"chunks,omitempty"`
}

// Handle processes a notification's records and fails when any record failed (after
// handling the others), so the event is retried and, at last, kept by the function's
// on-failure destination.
func (h *Handler) Handle(ctx context.Context, ev events.S3Event) ([]Outcome, error) {
	if len(ev.Records) == 0 {
		return nil, errors.New("tenantingest: the event has no Records; want an S3 event notification")
	}
	var out []Outcome
	var errs []error
	for i, r := range ev.Records {
		o, err := h.handleRecord(ctx, r)
		if err != nil {
			h.cfg.Log.Error("document not ingested", "record", i, "event", r.EventName, "key", r.S3.Object.Key, "error", err)
			errs = append(errs, fmt.Errorf("record %d (%s %s): %w", i, r.EventName, r.S3.Object.Key, err))
			continue
		}
		h.cfg.Log.Info("document reconciled", "key", o.Key, "document", o.DocumentID, "action", o.Action, "chunks", o.Chunks)
		out = append(out, o)
	}
	return out, errors.Join(errs...)
}

func (h *Handler) handleRecord(ctx context.Context, r events.S3EventRecord) (Outcome, error) {
	if r.EventSource != "aws:s3" {
		return Outcome{}, fmt.Errorf("event source %q is not aws:s3", r.EventSource)
	}
	if !strings.HasPrefix(r.EventName, "ObjectCreated:") && !strings.HasPrefix(r.EventName, "ObjectRemoved:") {
		return Outcome{}, fmt.Errorf("event %q is neither ObjectCreated nor ObjectRemoved", r.EventName)
	}
	if h.cfg.Bucket != "" && r.S3.Bucket.Name != h.cfg.Bucket {
		return Outcome{}, fmt.Errorf("bucket %q is not the tenant's documents bucket %q", r.S3.Bucket.Name, h.cfg.Bucket)
	}
	// Notification keys are URL-encoded (a space arrives as '+').
	key, err := url.QueryUnescape(r.S3.Object.Key)
	if err != nil {
		return Outcome{}, fmt.Errorf("key %q is not URL-encoded as S3 sends it: %w", r.S3.Object.Key, err)
	}
	tenant, kb, name, ok := rag.ParseKey(key)
	if !ok {
		return Outcome{}, fmt.Errorf("key %q is not under tenants/{tenant}/kb/{kb}/", key)
	}
	if tenant != h.cfg.Tenant {
		return Outcome{}, fmt.Errorf("key %q belongs to tenant %q; this stack ingests tenant %q only", key, tenant, h.cfg.Tenant)
	}
	name = strings.TrimSuffix(name, rag.SidecarSuffix) // a sidecar changes its document
	return h.Reconcile(ctx, kb, name)
}

// maxPasses bounds how often Reconcile starts over for a document that changed while it
// was being indexed.
const maxPasses = 4

// Reconcile brings the index in line with the document as the bucket holds it now:
// indexed when it exists (unless unchanged), removed when it does not. When the object
// (or its sidecar) changed while it was being indexed (a newer version's invocation may
// have written first), it starts over, so the last write is always of the newest state.
func (h *Handler) Reconcile(ctx context.Context, kb, name string) (Outcome, error) {
	key := rag.ObjectKey(h.cfg.Tenant, kb, name)
	for pass := 1; ; pass++ {
		out, seen, err := h.reconcileOnce(ctx, kb, name)
		if err != nil {
			return out, err
		}
		now, err := h.state(ctx, key)
		if err != nil {
			return out, err
		}
		if now == seen {
			return out, nil
		}
		if pass == maxPasses {
			return out, fmt.Errorf("%s changed %d times while it was being indexed; the event is retried", key, pass)
		}
		h.cfg.Log.Info("document changed while it was indexed; reconciling again", "key", key, "pass", pass)
	}
}

// state identifies the versions of a document and its sidecar in the bucket ("" for absent).
func (h *Handler) state(ctx context.Context, key string) (string, error) {
	var parts [2]string
	for i, k := range []string{key, key + rag.SidecarSuffix} {
		obj, err := h.cfg.Documents.Head(ctx, k)
		switch {
		case errors.Is(err, blob.ErrNotFound):
		case err != nil:
			return "", fmt.Errorf("head %s: %w", k, err)
		default:
			parts[i] = "v:" + obj.ETag
		}
	}
	return parts[0] + "|" + parts[1], nil
}

// reconcileOnce is one pass of Reconcile; seen is the state it acted on.
func (h *Handler) reconcileOnce(ctx context.Context, kb, name string) (out Outcome, seen string, err error) {
	var docState, sideState string
	defer func() { seen = docState + "|" + sideState }()
	tenant := h.cfg.Tenant
	key := rag.ObjectKey(tenant, kb, name)
	docID := rag.DocumentID(tenant, kb, name)
	out = Outcome{Key: key, DocumentID: docID}
	ix, err := h.cfg.Indexes.Open(ctx, tenant, kb)
	if err != nil {
		return out, "", fmt.Errorf("open the index of %s: %w", kb, err)
	}
	data, obj, err := h.read(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		// Removed (or removed again since this event): its chunks and record go. A
		// sidecar left behind is part of the state acted on.
		st, err := h.state(ctx, key)
		if err != nil {
			return out, "", err
		}
		sideState = st[strings.Index(st, "|")+1:]
		if err := ix.Delete(ctx, docID); err != nil {
			return out, "", fmt.Errorf("remove %s from the index: %w", key, err)
		}
		if err := h.cfg.Records.Delete(ctx, RecordKey(tenant, kb, docID)); err != nil {
			return out, "", fmt.Errorf("remove the record of %s: %w", key, err)
		}
		out.Action = "removed"
		return out, "", nil
	}
	if err != nil {
		return out, "", err
	}
	docState = "v:" + obj.ETag
	side, sideObj, err := h.read(ctx, key+rag.SidecarSuffix)
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		return out, "", err
	}
	if err == nil {
		sideState = "v:" + sideObj.ETag
	}
	sum := sha256.New()
	sum.Write(data)
	sum.Write([]byte{0})
	sum.Write(side)
	hash := hex.EncodeToString(sum.Sum(nil))
	rec := Record{Tenant: tenant, KB: kb, DocumentID: docID, Name: name, Source: h.source(key), ContentHash: hash,
		ETag: obj.ETag, Size: int64(len(data)), Model: h.cfg.Model, IndexBackend: h.cfg.IndexBackend}
	if prev, err := h.record(ctx, kb, docID); err != nil {
		return out, "", err
	} else if prev != nil && prev.Status == StatusIndexed && prev.ContentHash == hash && prev.Model == h.cfg.Model {
		out.Action, out.Chunks = "unchanged", prev.Chunks
		return out, "", nil
	}

	recs, err := h.chunks(name, obj.ContentType, data, side, rec.Source, docID)
	if err != nil {
		// The document itself is at fault: say so in its record, and fail the event.
		rec.Status, rec.Reason = StatusFailed, err.Error()
		if werr := h.putRecord(ctx, rec); werr != nil {
			return out, "", errors.Join(err, werr)
		}
		return out, "", err
	}
	// Embed everything before writing anything: a failed call leaves the index as it was.
	texts := make([]string, len(recs))
	for i := range recs {
		texts[i] = recs[i].SearchText()
	}
	for lo := 0; lo < len(texts); lo += h.cfg.Batch {
		hi := min(lo+h.cfg.Batch, len(texts))
		vecs, err := h.cfg.Embedder.Embed(ctx, texts[lo:hi], "search_document")
		if err != nil {
			return out, "", fmt.Errorf("embed chunks %d-%d of %s with %s: %w", lo, hi-1, key, h.cfg.Model, err)
		}
		if len(vecs) != hi-lo {
			return out, "", fmt.Errorf("embed %s: %d vectors for %d chunks", key, len(vecs), hi-lo)
		}
		for i, v := range vecs {
			recs[lo+i].Vector = v
		}
	}
	if err := ix.Upsert(ctx, docID, recs); err != nil {
		return out, "", fmt.Errorf("index %s: %w", key, err)
	}
	rec.Status, rec.Chunks = StatusIndexed, len(recs)
	if err := h.putRecord(ctx, rec); err != nil {
		return out, "", err
	}
	out.Action, out.Chunks = "indexed", len(recs)
	return out, "", nil
}

// chunks extracts and chunks a document into index records (vectors still to come).
func (h *Handler) chunks(name, contentType string, data, side []byte, source, docID string) ([]index.Record, error) {
	var md map[string]any
	if side != nil {
		var sc struct {
			MetadataAttributes map[string]any `json:"metadataAttributes"`
		}
		if err := json.Unmarshal(side, &sc); err != nil {
			return nil, fmt.Errorf("metadata sidecar of %s is not {\"metadataAttributes\":{…}}: %w", name, err)
		}
		md = sc.MetadataAttributes
	}
	secs, err := extract.Extract(name, contentType, data)
	if err != nil {
		return nil, fmt.Errorf("extract %s: %w", name, err)
	}
	chunks, err := chunk.Split(secs, h.cfg.Chunking)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", name, err)
	}
	if len(chunks) == 0 {
		return nil, fmt.Errorf("%s: %w", name, extract.ErrEmpty)
	}
	recs := make([]index.Record, len(chunks))
	for i, c := range chunks {
		recs[i] = index.Record{ChunkID: fmt.Sprintf("%s:%d", docID, c.Index), DocID: docID, DocName: name, Source: source,
			Page: c.Page, EndPage: c.EndPage, Heading: c.Heading, Text: c.Text, Parent: c.Parent, Metadata: md}
	}
	return recs, nil
}

// read returns an object's bytes, refusing one over the size limit before reading it.
func (h *Handler) read(ctx context.Context, key string) ([]byte, blob.Object, error) {
	obj, err := h.cfg.Documents.Head(ctx, key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil, blob.Object{}, err
		}
		return nil, blob.Object{}, fmt.Errorf("head %s: %w", key, err)
	}
	if obj.Size > h.cfg.MaxDocumentBytes {
		return nil, obj, fmt.Errorf("%s is %d bytes, over the %d-byte document limit", key, obj.Size, h.cfg.MaxDocumentBytes)
	}
	rc, obj, err := h.cfg.Documents.Get(ctx, key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil, blob.Object{}, err
		}
		return nil, blob.Object{}, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, h.cfg.MaxDocumentBytes+1))
	if err != nil {
		return nil, obj, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) > h.cfg.MaxDocumentBytes {
		return nil, obj, fmt.Errorf("%s is over the %d-byte document limit", key, h.cfg.MaxDocumentBytes)
	}
	return data, obj, nil
}

func (h *Handler) source(key string) string {
	if h.cfg.Bucket == "" {
		return key
	}
	return "s3://" + h.cfg.Bucket + "/" + key
}

// record returns a document's record, nil when it has none.
func (h *Handler) record(ctx context.Context, kb, docID string) (*Record, error) {
	rc, _, err := h.cfg.Records.Get(ctx, RecordKey(h.cfg.Tenant, kb, docID))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the record of %s: %w", docID, err)
	}
	defer rc.Close()
	var r Record
	if err := json.NewDecoder(rc).Decode(&r); err != nil {
		// A damaged record only costs a re-index.
		return nil, nil
	}
	return &r, nil
}

// Record returns a document's record (nil when it has none).
func (h *Handler) Record(ctx context.Context, kb, name string) (*Record, error) {
	return h.record(ctx, kb, rag.DocumentID(h.cfg.Tenant, kb, name))
}

func (h *Handler) putRecord(ctx context.Context, r Record) error {
	r.UpdatedAt = h.cfg.Clock().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := h.cfg.Records.Put(ctx, RecordKey(r.Tenant, r.KB, r.DocumentID), bytes.NewReader(b), blob.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write the record of %s: %w", r.Name, err)
	}
	return nil
}
