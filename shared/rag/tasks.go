package rag

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/rag/chunk"
	"github.com/plinth-ai/plinth/shared/rag/extract"
	"github.com/plinth-ai/plinth/shared/rag/index"
)

// Error names the ingestion state machine's Retry and Catch match on. A Lambda built from
// these handlers reports them as its errorType.
const (
	// ErrorTransient is retried with backoff (throttling, timeouts, storage hiccups).
	ErrorTransient = "TransientError"
	// ErrorDocument is a problem with the document itself: it is never retried and the
	// document ends failed with the reason.
	ErrorDocument = "DocumentError"
)

// TaskError is a classified task failure.
type TaskError struct {
	Name string
	Err  error
}

func (e *TaskError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *TaskError) Unwrap() error { return e.Err }

func transient(err error) error { return &TaskError{Name: ErrorTransient, Err: err} }
func permanent(err error) error { return &TaskError{Name: ErrorDocument, Err: err} }

// classify marks storage failures transient and domain errors permanent.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var te *TaskError
	if errors.As(err, &te) {
		return err
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNoEmbedder) ||
		errors.Is(err, index.ErrDimension) || errors.Is(err, index.ErrInvalidName) {
		return permanent(err)
	}
	if gateway.Permanent(err) {
		return permanent(err)
	}
	return transient(err)
}

// Task names: the placeholders of statemachines/ingestion.asl.json, without ${}.
const (
	TaskPrepare        = "PrepareFunctionArn"
	TaskExtract        = "ExtractFunctionArn"
	TaskChunk          = "ChunkFunctionArn"
	TaskEmbed          = "EmbedFunctionArn"
	TaskIndex          = "IndexFunctionArn"
	TaskMarkDocument   = "MarkDocumentFunctionArn"
	TaskFailDocument   = "FailDocumentFunctionArn"
	TaskDeleteDocument = "DeleteDocumentFunctionArn"
)

// Job is the state passed between ingestion states. Intermediate data (sections, chunks,
// vectors) travels inline while each part stays under InlineLimit; larger parts spill to
// the blob store under work/{tenant}/{kb}/{document}/ and the job carries their keys, so the
// state stays far below Step Functions' 256 KB payload limit.
type Job struct {
	Tenant      string `json:"tenant"`
	KB          string `json:"knowledge_base"`
	DocumentID  string `json:"document_id"`
	Name        string `json:"name"`
	Key         string `json:"key"`
	Action      string `json:"action"`
	ContentHash string `json:"content_hash,omitempty"`
	// Unchanged is set when the content and metadata hash equal the indexed version's.
	Unchanged   bool            `json:"unchanged"`
	SectionsKey string          `json:"sections_key,omitempty"`
	ChunksKey   string          `json:"chunks_key,omitempty"`
	VectorsKey  string          `json:"vectors_key,omitempty"`
	SectionsRaw json.RawMessage `json:"sections_inline,omitempty"`
	ChunksRaw   json.RawMessage `json:"chunks_inline,omitempty"`
	// VectorsRaw is the little-endian float32 encoding (base64 in JSON).
	VectorsRaw []byte `json:"vectors_inline,omitempty"`
	// Spilled is set once any part went to the blob store (MarkDocument then cleans up).
	Spilled  bool         `json:"spilled,omitempty"`
	Sections int          `json:"sections,omitempty"`
	Chunks   int          `json:"chunks,omitempty"`
	Error    *FlowFailure `json:"error,omitempty"`
}

// FlowFailure is what a Catch with ResultPath "$.error" records.
type FlowFailure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Job actions.
const (
	ActionUpsert = "upsert"
	ActionDelete = "delete"
	ActionSkip   = "skip"
)

// TaskFunc is one ingestion task: JSON in, JSON out (the flow executor's and a Lambda
// handler's shape).
type TaskFunc = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error)

// Tasks returns the ingestion tasks keyed by their placeholder names in
// statemachines/ingestion.asl.json. Failures are *flow.TaskError named ErrorTransient or
// ErrorDocument, so the definition's Retry and Catch apply.
func (s *Service) Tasks() map[string]TaskFunc {
	return map[string]TaskFunc{
		TaskPrepare:        wrap(s.Prepare),
		TaskExtract:        wrap(s.Extract),
		TaskChunk:          wrap(s.Chunk),
		TaskEmbed:          wrap(s.Embed),
		TaskIndex:          wrap(s.Index),
		TaskMarkDocument:   wrap(s.MarkDocument),
		TaskFailDocument:   wrap(s.FailDocument),
		TaskDeleteDocument: wrap(s.DeleteDocumentTask),
	}
}

func wrap[In any](fn func(context.Context, In) (Job, error)) TaskFunc {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in In
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, &flow.TaskError{Type: ErrorDocument, Cause: "task input: " + err.Error()}
		}
		out, err := fn(ctx, in)
		if err != nil {
			err = classify(err)
			var te *TaskError
			errors.As(err, &te)
			return nil, &flow.TaskError{Type: te.Name, Cause: te.Err.Error()}
		}
		return json.Marshal(out)
	}
}

// ObjectEvent is the part of an EventBridge S3 event (or the platform's equivalent upload
// event) ingestion reads.
type ObjectEvent struct {
	DetailType string `json:"detail-type"`
	Detail     struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key  string `json:"key"`
			Size int64  `json:"size"`
		} `json:"object"`
	} `json:"detail"`
}

// ParseKey splits "tenants/{tenant}/kb/{kb}/{name}".
func ParseKey(key string) (tenant, kb, name string, ok bool) {
	parts := strings.SplitN(key, "/", 5)
	if len(parts) != 5 || parts[0] != "tenants" || parts[2] != "kb" || parts[1] == "" || parts[3] == "" || parts[4] == "" {
		return "", "", "", false
	}
	return parts[1], parts[3], parts[4], true
}

func (s *Service) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.blob.Head(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, transient(fmt.Errorf("head %s: %w", key, err))
	}
	return true, nil
}

// Prepare turns an object event into a Job: it finds the tenant, knowledge base and
// document from the key, decides whether to index, delete or skip, and records a pending
// document for objects that arrived without the API.
func (s *Service) Prepare(ctx context.Context, ev ObjectEvent) (Job, error) {
	key := ev.Detail.Object.Key
	if key == "" {
		return Job{}, permanent(fault.New(ErrInvalid, "", "event has no detail.object.key"))
	}
	// S3 notifications URL-encode keys; use the decoded form when the raw one is not there.
	if dec, err := url.QueryUnescape(key); err == nil && dec != key {
		if ok, err := s.exists(ctx, key); err != nil {
			return Job{}, err
		} else if !ok {
			key = dec
		}
	}
	tenant, kbID, name, ok := ParseKey(key)
	if !ok {
		return Job{}, permanent(fault.New(ErrInvalid, "", "key %q is not under tenants/{tenant}/kb/{kb}/", key))
	}
	kb, err := s.GetKnowledgeBase(ctx, tenant, kbID)
	if err != nil {
		return Job{}, err
	}
	sidecar := strings.HasSuffix(name, SidecarSuffix)
	if sidecar {
		name = strings.TrimSuffix(name, SidecarSuffix)
		key = ObjectKey(tenant, kbID, name)
	}
	if err := validName(name); err != nil {
		return Job{}, permanent(err)
	}
	job := Job{Tenant: tenant, KB: kb.ID, DocumentID: DocumentID(tenant, kbID, name), Name: name, Key: key}
	present, err := s.exists(ctx, key)
	if err != nil {
		return Job{}, err
	}
	switch {
	case present:
		// Created, re-created after a delete event, or a sidecar changed: (re)index.
		job.Action = ActionUpsert
	case sidecar:
		job.Action = ActionSkip // metadata without its document
	case ev.DetailType == "Object Deleted":
		job.Action = ActionDelete
	default:
		job.Action = ActionSkip // deleted again before we got here; its delete event follows
	}
	if job.Action == ActionUpsert {
		if _, err := s.updateDoc(ctx, tenant, kbID, job.DocumentID, true, func(d *Document) error {
			d.Name, d.SourceURI = name, s.sourceURI(ctx, key)
			if d.Status != StatusIndexed {
				d.Status = StatusPending
			}
			return nil
		}); err != nil {
			return Job{}, err
		}
	}
	return job, nil
}

func (s *Service) readBlob(ctx context.Context, key string) ([]byte, string, error) {
	rc, obj, err := s.blob.Get(ctx, key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil, "", permanent(fmt.Errorf("%s: %w", key, ErrNotFound))
		}
		return nil, "", transient(fmt.Errorf("read %s: %w", key, err))
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, "", transient(fmt.Errorf("read %s: %w", key, err))
	}
	return data, obj.ContentType, nil
}

// InlineLimit caps each intermediate part carried inside the job; three parts at most
// keep a job under 200 KB, within Step Functions' 256 KB payload limit.
const InlineLimit = 60 << 10

// stash keeps data inline when small, else writes it to the work area and returns its key.
func (s *Service) stash(ctx context.Context, job *Job, file string, data []byte) (key string, inline []byte, err error) {
	if len(data) <= InlineLimit {
		return "", data, nil
	}
	key = s.workKey(*job, file)
	if _, err := s.blob.Put(ctx, key, bytes.NewReader(data), blob.PutOptions{}); err != nil {
		return "", nil, transient(fmt.Errorf("write %s: %w", key, err))
	}
	job.Spilled = true
	return key, nil, nil
}

// unstash returns the inline data or reads it from the work area.
func (s *Service) unstash(ctx context.Context, key string, inline []byte) ([]byte, error) {
	if key == "" {
		return inline, nil
	}
	b, _, err := s.readBlob(ctx, key)
	return b, err
}

func (s *Service) readJSON(ctx context.Context, key string, inline []byte, v any) error {
	b, err := s.unstash(ctx, key, inline)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return permanent(fmt.Errorf("decode intermediate %s: %w", key, err))
	}
	return nil
}

// Extract reads the document and its sidecar, skips it when its hash matches the indexed
// version, and otherwise writes its text sections to the work area.
func (s *Service) Extract(ctx context.Context, job Job) (Job, error) {
	// Documents dropped in the bucket skip the upload's checks: check here, before
	// reading a document that is too large.
	if obj, err := s.blob.Head(ctx, job.Key); err == nil {
		if err := s.checkSize(obj.Size); err != nil {
			return Job{}, permanent(err)
		}
	}
	data, contentType, err := s.readBlob(ctx, job.Key)
	if err != nil {
		return Job{}, err
	}
	var md map[string]any
	side, _, err := s.readBlob(ctx, job.Key+SidecarSuffix)
	switch {
	case err == nil:
		var sc struct {
			MetadataAttributes map[string]any `json:"metadataAttributes"`
		}
		if err := json.Unmarshal(side, &sc); err != nil {
			return Job{}, permanent(fault.New(ErrInvalid, "", "metadata sidecar is not {\"metadataAttributes\":{…}}: %v", err))
		}
		md = sc.MetadataAttributes
	case errors.Is(err, ErrNotFound):
		side = nil
	default:
		return Job{}, err
	}
	h := sha256.New()
	h.Write(data)
	h.Write([]byte{0})
	h.Write(side)
	job.ContentHash = hex.EncodeToString(h.Sum(nil))
	doc, err := s.updateDoc(ctx, job.Tenant, job.KB, job.DocumentID, true, func(d *Document) error {
		d.Name, d.Size, d.Metadata, d.SourceURI = job.Name, int64(len(data)), md, s.sourceURI(ctx, job.Key)
		if contentType != "" {
			d.ContentType = contentType
		}
		return nil
	})
	if err != nil {
		return Job{}, err
	}
	// ContentHash is the hash of the version in the index (a failed newer version leaves
	// it), so identical bytes and metadata need no work whatever the current status.
	if doc.ContentHash == job.ContentHash {
		job.Unchanged = true
		job.Chunks = doc.Chunks
		return job, nil
	}
	if kb, err := s.GetKnowledgeBase(ctx, job.Tenant, job.KB); err != nil {
		return Job{}, err
	} else if err := checkSchema(kb, md); err != nil {
		return Job{}, permanent(err)
	}
	secs, err := extract.Extract(job.Name, contentType, data)
	if err != nil {
		return Job{}, permanent(fmt.Errorf("extract %s: %w", job.Name, err))
	}
	job.Sections = len(secs)
	b, err := json.Marshal(secs)
	if err != nil {
		return Job{}, err
	}
	job.SectionsKey, job.SectionsRaw, err = s.stash(ctx, &job, "sections.json", b)
	return job, err
}

func (s *Service) workKey(job Job, file string) string {
	h := job.ContentHash
	if len(h) > 16 {
		h = h[:16]
	}
	return workPrefix(job.Tenant, job.KB, job.DocumentID) + h + "/" + file
}

// Chunk splits the sections with the knowledge base's chunking configuration.
func (s *Service) Chunk(ctx context.Context, job Job) (Job, error) {
	kb, err := s.GetKnowledgeBase(ctx, job.Tenant, job.KB)
	if err != nil {
		return Job{}, err
	}
	var secs []extract.Section
	if err := s.readJSON(ctx, job.SectionsKey, job.SectionsRaw, &secs); err != nil {
		return Job{}, err
	}
	chunks, err := chunk.Split(secs, kb.Chunking)
	if err != nil {
		return Job{}, permanent(err)
	}
	if len(chunks) == 0 {
		return Job{}, permanent(fmt.Errorf("%s: %w", job.Name, extract.ErrEmpty))
	}
	job.Chunks = len(chunks)
	b, err := json.Marshal(chunks)
	if err != nil {
		return Job{}, err
	}
	// Sections are no longer needed once chunked.
	job.SectionsRaw = nil
	job.ChunksKey, job.ChunksRaw, err = s.stash(ctx, &job, "chunks.json", b)
	return job, err
}

// searchText is what gets embedded and searched for a chunk.
func searchText(c chunk.Chunk) string {
	r := index.Record{Heading: c.Heading, Text: c.Text}
	return r.SearchText()
}

func (s *Service) embedAttempt(ctx context.Context, emb Embedder, texts []string, inputType string, attempts int) ([][]float32, error) {
	backoff := s.embedBackoff
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			wait := backoff
			if ra := gateway.RetryAfter(lastErr); ra > wait {
				wait = ra
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, transient(ctx.Err())
			case <-t.C:
			}
			backoff *= 2
		}
		if err := s.limit.wait(ctx); err != nil {
			return nil, transient(err)
		}
		vecs, err := emb.Embed(ctx, texts, inputType)
		if err == nil {
			if len(vecs) != len(texts) {
				return nil, permanent(fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts)))
			}
			return vecs, nil
		}
		lastErr = err
		if gateway.Permanent(err) {
			return nil, permanent(fmt.Errorf("embed: %w", err))
		}
	}
	return nil, transient(fmt.Errorf("embed after %d attempts: %w", attempts, lastErr))
}

// encodeVectors writes n, dim and the float32s little-endian.
func encodeVectors(vecs [][]float32) ([]byte, error) {
	dim := 0
	if len(vecs) > 0 {
		dim = len(vecs[0])
	}
	buf := make([]byte, 8, 8+4*dim*len(vecs))
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(vecs)))
	binary.LittleEndian.PutUint32(buf[4:], uint32(dim))
	for i, v := range vecs {
		if len(v) != dim {
			return nil, fmt.Errorf("vector %d has %d dimensions, vector 0 has %d", i, len(v), dim)
		}
		for _, x := range v {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
		}
	}
	return buf, nil
}

func decodeVectors(b []byte) ([][]float32, error) {
	if len(b) < 8 {
		return nil, errors.New("vectors file too short")
	}
	n, dim := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
	if len(b) != 8+4*n*dim {
		return nil, errors.New("vectors file has the wrong length")
	}
	out := make([][]float32, n)
	all := make([]float32, n*dim)
	for i := range all {
		all[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	for i := range out {
		out[i] = all[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out, nil
}

// Index upserts the document's chunks (replacing any earlier version) with tenant,
// knowledge base, document, chunk, source URI, page and metadata.
func (s *Service) Index(ctx context.Context, job Job) (Job, error) {
	kb, err := s.GetKnowledgeBase(ctx, job.Tenant, job.KB)
	if err != nil {
		return Job{}, err
	}
	doc, err := s.GetDocument(ctx, job.Tenant, job.KB, job.DocumentID)
	if err != nil {
		return Job{}, err
	}
	var chunks []chunk.Chunk
	if err := s.readJSON(ctx, job.ChunksKey, job.ChunksRaw, &chunks); err != nil {
		return Job{}, err
	}
	var vecs [][]float32
	if job.VectorsKey != "" || job.VectorsRaw != nil {
		b, err := s.unstash(ctx, job.VectorsKey, job.VectorsRaw)
		if err != nil {
			return Job{}, err
		}
		if vecs, err = decodeVectors(b); err != nil || len(vecs) != len(chunks) {
			return Job{}, permanent(fmt.Errorf("vectors of %s do not match its %d chunks: %v", job.Name, len(chunks), err))
		}
	}
	recs := make([]index.Record, len(chunks))
	for i, c := range chunks {
		recs[i] = index.Record{
			ChunkID: fmt.Sprintf("%s:%d", job.DocumentID, c.Index), DocID: job.DocumentID, DocName: doc.Name,
			Source: doc.SourceURI, Page: c.Page, EndPage: c.EndPage, Heading: c.Heading, Text: c.Text, Parent: c.Parent, Metadata: doc.Metadata,
		}
		if vecs != nil {
			recs[i].Vector = vecs[i]
		}
	}
	ix, err := s.openIndex(ctx, kb)
	if err != nil {
		return Job{}, err
	}
	if err := ix.Upsert(ctx, job.DocumentID, recs); err != nil {
		return Job{}, fmt.Errorf("index %s: %w", job.Name, err)
	}
	return job, nil
}

// MarkDocument records the document as indexed and clears its work files.
func (s *Service) MarkDocument(ctx context.Context, job Job) (Job, error) {
	_, err := s.updateDoc(ctx, job.Tenant, job.KB, job.DocumentID, true, func(d *Document) error {
		d.Status, d.Reason, d.ContentHash, d.Chunks = StatusIndexed, "", job.ContentHash, job.Chunks
		if d.Name == "" {
			d.Name = job.Name
		}
		return nil
	})
	if err != nil {
		return Job{}, err
	}
	if job.Spilled {
		s.cleanWork(ctx, job.Tenant, job.KB, job.DocumentID)
	}
	return job.summary(), nil
}

// summary drops the intermediate data from a finished job.
func (j Job) summary() Job {
	j.SectionsRaw, j.ChunksRaw, j.VectorsRaw = nil, nil, nil
	j.SectionsKey, j.ChunksKey, j.VectorsKey = "", "", ""
	return j
}

// FailDocument records the document as failed with the reason from the caught error: the
// dead-letter record. A document is never silently dropped.
func (s *Service) FailDocument(ctx context.Context, job Job) (Job, error) {
	reason := "ingestion failed"
	if job.Error != nil {
		reason = failureReason(job.Error)
	}
	if job.Tenant == "" || job.KB == "" || job.DocumentID == "" {
		return job, nil // nothing identifies a document to mark
	}
	if _, err := s.GetKnowledgeBase(ctx, job.Tenant, job.KB); err != nil {
		return job, nil
	}
	_, err := s.updateDoc(ctx, job.Tenant, job.KB, job.DocumentID, true, func(d *Document) error {
		d.Status, d.Reason = StatusFailed, reason
		if d.Name == "" {
			d.Name = job.Name
		}
		return nil
	})
	if err != nil {
		return Job{}, err
	}
	s.cleanWork(ctx, job.Tenant, job.KB, job.DocumentID)
	return job.summary(), nil
}

// failureReason extracts a readable reason from a Catch result; Lambda causes are JSON
// {"errorMessage","errorType"}.
func failureReason(f *FlowFailure) string {
	cause := f.Cause
	var lambdaErr struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &lambdaErr) == nil && lambdaErr.ErrorMessage != "" {
		cause = lambdaErr.ErrorMessage
	}
	if cause == "" {
		return f.Error
	}
	if len(cause) > 1000 {
		cause = cause[:1000]
	}
	return cause
}

// DeleteDocumentTask removes a deleted object's document from the index and the records.
func (s *Service) DeleteDocumentTask(ctx context.Context, job Job) (Job, error) {
	kb, err := s.GetKnowledgeBase(ctx, job.Tenant, job.KB)
	if err != nil {
		return Job{}, err
	}
	return job, s.removeDocument(ctx, kb, job.DocumentID)
}
