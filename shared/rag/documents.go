package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/rag/extract"
	"github.com/plinth-ai/plinth/shared/store"
)

// Document is one file in a knowledge base and its ingestion state.
type Document struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	KB     string `json:"knowledge_base"`
	Name   string `json:"name"`
	// Status is pending, indexed or failed.
	Status string `json:"status"`
	// Reason says why ingestion failed.
	Reason string `json:"reason,omitempty"`
	// ContentHash is the SHA-256 of the indexed version's bytes and metadata sidecar.
	ContentHash string         `json:"content_hash,omitempty"`
	Size        int64          `json:"size"`
	ContentType string         `json:"content_type,omitempty"`
	Chunks      int            `json:"chunk_count"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	SourceURI   string         `json:"source_uri"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

func (s *Service) docKey(tenant, kb, id string) store.Key {
	return store.Key{PK: docPK(tenant, kb), SK: id}
}

// tenantBucket is the name of the documents bucket the tenant's documents live in.
func (s *Service) tenantBucket(ctx context.Context, tenant string) string {
	if s.bucketOf != nil && tenant != "" {
		if name := s.bucketOf(ctx, tenant); name != "" {
			return name
		}
	}
	return s.bucket
}

// sourceURI is where the object with the key lives: s3://<its tenant's bucket>/<key>.
func (s *Service) sourceURI(ctx context.Context, key string) string {
	tenant, _, _, _ := ParseKey(key)
	return "s3://" + s.tenantBucket(ctx, tenant) + "/" + key
}

// located returns a source URI recorded for one of the tenant's objects with the bucket
// the object lives in now (a record copied by a move keeps the bucket it was written
// with); any other URI is returned as it is.
func (s *Service) located(ctx context.Context, tenant, uri string) string {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok || s.bucketOf == nil {
		return uri
	}
	bucket, key, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(key, "tenants/"+tenant+"/") {
		return uri
	}
	if now := s.tenantBucket(ctx, tenant); now != bucket {
		return "s3://" + now + "/" + key
	}
	return uri
}

// GetDocument returns a document of the tenant's knowledge base.
func (s *Service) GetDocument(ctx context.Context, tenant, kb, id string) (Document, error) {
	d, _, err := s.getDoc(ctx, tenant, kb, id)
	d.SourceURI = s.located(ctx, tenant, d.SourceURI)
	return d, err
}

func (s *Service) getDoc(ctx context.Context, tenant, kb, id string) (Document, int64, error) {
	it, err := s.store.Get(ctx, s.docKey(tenant, kb, id))
	if errors.Is(err, store.ErrNotFound) {
		return Document{}, 0, fault.New(ErrNotFound, "", "knowledge base %s of tenant %s has no document %q; list its documents with GET /v1/knowledge-bases/%s/documents", kb, tenant, id, kb)
	}
	if err != nil {
		return Document{}, 0, fmt.Errorf("get document %s: %w", id, err)
	}
	var d Document
	if err := json.Unmarshal(it.Data, &d); err != nil {
		return Document{}, 0, fmt.Errorf("decode document %s: %w", id, err)
	}
	return d, it.Version, nil
}

// updateDoc applies fn to the document record (creating it when missing and create is
// set) with optimistic concurrency.
func (s *Service) updateDoc(ctx context.Context, tenant, kb, id string, create bool, fn func(d *Document) error) (Document, error) {
	for attempt := 0; attempt < 10; attempt++ {
		d, ver, err := s.getDoc(ctx, tenant, kb, id)
		if errors.Is(err, ErrNotFound) && create {
			d = Document{ID: id, Tenant: tenant, KB: kb, Status: StatusPending, CreatedAt: s.now().UTC()}
			ver = 0
		} else if err != nil {
			return Document{}, err
		}
		if err := fn(&d); err != nil {
			return Document{}, err
		}
		d.UpdatedAt = s.now().UTC()
		data, err := json.Marshal(d)
		if err != nil {
			return Document{}, err
		}
		_, err = s.store.Put(ctx, store.Item{Key: s.docKey(tenant, kb, id), Data: data}, store.WriteOptions{Cond: store.IfVersion, Version: ver})
		if errors.Is(err, store.ErrConditionFailed) {
			continue
		}
		if err != nil {
			return Document{}, fmt.Errorf("write document %s: %w", id, err)
		}
		return d, nil
	}
	return Document{}, fmt.Errorf("write document %s: concurrent updates kept conflicting", id)
}

// ListDocuments returns the knowledge base's documents in ID order.
func (s *Service) ListDocuments(ctx context.Context, tenant, kb string) ([]Document, error) {
	if _, err := s.GetKnowledgeBase(ctx, tenant, kb); err != nil {
		return nil, err
	}
	items, err := s.store.Query(ctx, docPK(tenant, kb), store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list documents of %s/%s: %w", tenant, kb, err)
	}
	out := make([]Document, 0, len(items))
	for _, it := range items {
		var d Document
		if err := json.Unmarshal(it.Data, &d); err != nil {
			return nil, fmt.Errorf("decode document %s: %w", it.SK, err)
		}
		d.SourceURI = s.located(ctx, tenant, d.SourceURI)
		out = append(out, d)
	}
	return out, nil
}

// Upload is a document to add or replace.
type Upload struct {
	Name        string
	ContentType string
	Body        io.Reader
	// Metadata are the document's attributes, stored as the sidecar
	// "<name>.metadata.json" ({"metadataAttributes":{…}}). Nil removes an old sidecar.
	Metadata map[string]any
}

// UploadDocument stores the document (and its metadata sidecar) under the knowledge base's
// prefix, marks it pending and starts ingestion. Re-uploading a name replaces the document;
// identical content and metadata are recognised by hash and not re-indexed.
func (s *Service) UploadDocument(ctx context.Context, tenant, kbID string, up Upload) (Document, error) {
	kb, err := s.GetKnowledgeBase(ctx, tenant, kbID)
	if err != nil {
		return Document{}, err
	}
	up.Name = path.Clean(up.Name)
	if err := validName(up.Name); err != nil {
		return Document{}, err
	}
	format, err := extract.Detect(up.Name, up.ContentType, nil)
	if err != nil && path.Ext(up.Name) != "" {
		return Document{}, fault.New(ErrInvalid, "file", "%v (supported: txt, md, html, pdf, docx, csv, json)", err)
	}
	if err := checkSchema(kb, up.Metadata); err != nil {
		return Document{}, err
	}
	body, err := io.ReadAll(io.LimitReader(up.Body, s.maxDoc+1))
	if err != nil {
		return Document{}, fmt.Errorf("read upload: %w", err)
	}
	if err := s.checkSize(int64(len(body))); err != nil {
		return Document{}, err
	}
	if isText(format) && len(bytes.TrimSpace(body)) == 0 {
		return Document{}, fault.New(ErrInvalid, "file", "the document %s has no text: there is nothing to index", up.Name)
	}
	key := ObjectKey(tenant, kbID, up.Name)
	sidecar := key + SidecarSuffix
	if up.Metadata != nil {
		md, err := json.Marshal(map[string]any{"metadataAttributes": up.Metadata})
		if err != nil {
			return Document{}, fault.New(ErrInvalid, "metadata", "metadata: %v", err)
		}
		if _, err := s.blob.Put(ctx, sidecar, bytes.NewReader(md), blob.PutOptions{ContentType: "application/json"}); err != nil {
			return Document{}, fmt.Errorf("store metadata of %s: %w", up.Name, err)
		}
	} else if err := s.blob.Delete(ctx, sidecar); err != nil {
		return Document{}, fmt.Errorf("remove old metadata of %s: %w", up.Name, err)
	}
	if _, err := s.blob.Put(ctx, key, bytes.NewReader(body), blob.PutOptions{ContentType: up.ContentType}); err != nil {
		return Document{}, fmt.Errorf("store document %s: %w", up.Name, err)
	}
	id := DocumentID(tenant, kbID, up.Name)
	doc, err := s.updateDoc(ctx, tenant, kbID, id, true, func(d *Document) error {
		d.Name, d.Size, d.ContentType, d.SourceURI, d.Metadata = up.Name, int64(len(body)), up.ContentType, s.sourceURI(ctx, key), up.Metadata
		d.Status, d.Reason = StatusPending, ""
		return nil
	})
	if err != nil {
		return Document{}, err
	}
	if s.starter != nil {
		if err := s.starter(ctx, s.objectEvent(ctx, "Object Created", key, int64(len(body)))); err != nil {
			return s.updateDoc(ctx, tenant, kbID, id, false, func(d *Document) error {
				d.Status, d.Reason = StatusFailed, "could not start ingestion: "+err.Error()
				return nil
			})
		}
	}
	return doc, nil
}

// objectEvent builds the EventBridge S3 event the ingestion flow takes.
func (s *Service) objectEvent(ctx context.Context, detailType, key string, size int64) json.RawMessage {
	tenant, _, _, _ := ParseKey(key)
	ev := map[string]any{
		"version":     "0",
		"source":      "aws.s3",
		"detail-type": detailType,
		"time":        s.now().UTC().Format(time.RFC3339),
		"detail": map[string]any{
			"version": "0",
			"bucket":  map[string]any{"name": s.tenantBucket(ctx, tenant)},
			"object":  map[string]any{"key": key, "size": size},
			"reason":  "PutObject",
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

// DeleteDocument removes a document's bytes, sidecar, index entries and record.
func (s *Service) DeleteDocument(ctx context.Context, tenant, kbID, id string) error {
	kb, err := s.GetKnowledgeBase(ctx, tenant, kbID)
	if err != nil {
		return err
	}
	d, err := s.GetDocument(ctx, tenant, kbID, id)
	if err != nil {
		return err
	}
	key := ObjectKey(tenant, kbID, d.Name)
	for _, k := range []string{key, key + SidecarSuffix} {
		if err := s.blob.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
	}
	return s.removeDocument(ctx, kb, id)
}

func (s *Service) removeDocument(ctx context.Context, kb KnowledgeBase, id string) error {
	ix, err := s.openIndex(ctx, kb)
	if err != nil {
		return err
	}
	if err := ix.Delete(ctx, id); err != nil {
		return fmt.Errorf("remove %s from the index: %w", id, err)
	}
	s.cleanWork(ctx, kb.Tenant, kb.ID, id)
	if err := s.store.Delete(ctx, s.docKey(kb.Tenant, kb.ID, id), store.WriteOptions{}); err != nil {
		return fmt.Errorf("delete document record %s: %w", id, err)
	}
	return nil
}

func (s *Service) cleanWork(ctx context.Context, tenant, kb, id string) {
	objs, err := s.blob.List(ctx, workPrefix(tenant, kb, id))
	if err != nil {
		return
	}
	for _, o := range objs {
		_ = s.blob.Delete(ctx, o.Key)
	}
}

func workPrefix(tenant, kb, id string) string { return "work/" + tenant + "/" + kb + "/" + id + "/" }

// checkSchema refuses attributes whose type contradicts the knowledge base's schema.
func checkSchema(kb KnowledgeBase, md map[string]any) error {
	for k, v := range md {
		want, ok := kb.MetadataSchema[k]
		if !ok {
			continue
		}
		okType := false
		switch want {
		case "string":
			_, okType = v.(string)
		case "number":
			_, okType = v.(float64)
		case "boolean":
			_, okType = v.(bool)
		case "string_list":
			if list, ok := v.([]any); ok {
				okType = true
				for _, e := range list {
					if _, ok := e.(string); !ok {
						okType = false
					}
				}
			}
		}
		if !okType {
			return fault.New(ErrInvalid, "metadata", "metadata %q must be a %s, as the knowledge base's metadata_schema says", k, want)
		}
	}
	return nil
}

// checkSize refuses an empty document and one over the size limit.
func (s *Service) checkSize(n int64) error {
	if n == 0 {
		return fault.New(ErrInvalid, "file", "the document is empty: there is nothing to index")
	}
	if n > s.maxDoc {
		return fault.New(ErrTooLarge, "file", "the document is %s, over the %s limit of a knowledge-base document; split it into smaller files",
			mebibytes(n), mebibytes(s.maxDoc))
	}
	return nil
}

// isText reports whether a format is text whose bytes are its content.
func isText(f extract.Format) bool {
	switch f {
	case extract.FormatText, extract.FormatMarkdown, extract.FormatCSV, extract.FormatJSON:
		return true
	}
	return false
}

// mebibytes writes a size for people: MiB from 1 MiB up, else KiB.
func mebibytes(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}
