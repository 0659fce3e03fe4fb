package customize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/store"
)

// countingReader counts and hashes what passes through it and fails past a limit.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
	sum   interface{ Write([]byte) (int, error) }
}

var errUploadTooLarge = errors.New("upload too large")

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	_, _ = c.sum.Write(p[:n])
	if c.limit > 0 && c.n > c.limit {
		return n, errUploadTooLarge
	}
	return n, err
}

// CreateFile stores an uploaded dataset for tenant. purpose must be "fine-tune".
func (s *Service) CreateFile(ctx context.Context, tenant, filename, purpose string, body io.Reader, prov *Provenance) (*File, error) {
	if purpose != PurposeFineTune {
		return nil, fmt.Errorf("%w: purpose %q is not supported; use %q", ErrInvalid, purpose, PurposeFineTune)
	}
	filename = path.Base(strings.ReplaceAll(filename, "\\", "/"))
	if filename == "" || filename == "." || filename == "/" {
		filename = "upload.jsonl"
	}
	id := newID("file-")
	key := fileKey(tenant, id)
	h := sha256.New()
	cr := &countingReader{r: body, limit: s.maxUpload, sum: h}
	opts := blob.PutOptions{ContentType: "application/jsonl", IfNoneMatch: true,
		Metadata: map[string]string{"tenant": tenant, "file-id": id, "filename": filename}}
	if s.keys != nil {
		k, err := s.keys(ctx, tenant)
		if err != nil {
			return nil, fmt.Errorf("encryption key for tenant %s: %w", tenant, err)
		}
		opts.KMSKeyID = k
	}
	if _, err := s.blobs.Put(ctx, key, cr, opts); err != nil {
		_ = s.blobs.Delete(context.WithoutCancel(ctx), key)
		if errors.Is(err, errUploadTooLarge) {
			return nil, fmt.Errorf("%w: the file exceeds %d bytes", ErrInvalid, s.maxUpload)
		}
		return nil, fmt.Errorf("store file: %w", err)
	}
	if cr.n == 0 {
		_ = s.blobs.Delete(ctx, key)
		return nil, fmt.Errorf("%w: the file is empty", ErrInvalid)
	}
	now := s.now()
	f := File{ID: id, Object: "file", Bytes: cr.n, CreatedAt: unix(now), Filename: filename, Purpose: purpose,
		Status: "processed", SHA256: hex.EncodeToString(h.Sum(nil)), Provenance: prov}
	if err := s.putFile(ctx, &fileRecord{File: f, Tenant: tenant, Key: key}); err != nil {
		_ = s.blobs.Delete(context.WithoutCancel(ctx), key)
		return nil, err
	}
	return &f, nil
}

func (s *Service) putFile(ctx context.Context, rec *fileRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := s.store.Put(ctx, store.Item{Key: store.Key{PK: tenantPK(rec.Tenant), SK: fileSK(rec.File.ID)}, Data: data}, store.WriteOptions{Cond: store.IfNotExists}); err != nil {
		return fmt.Errorf("save file %s: %w", rec.File.ID, err)
	}
	return nil
}

func (s *Service) fileRecord(ctx context.Context, tenant, id string) (*fileRecord, error) {
	it, err := s.store.Get(ctx, store.Key{PK: tenantPK(tenant), SK: fileSK(id)})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("file %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get file %s: %w", id, err)
	}
	var rec fileRecord
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return nil, fmt.Errorf("decode file %s: %w", id, err)
	}
	return &rec, nil
}

// GetFile returns a tenant's file.
func (s *Service) GetFile(ctx context.Context, tenant, id string) (*File, error) {
	rec, err := s.fileRecord(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return &rec.File, nil
}

// FileContent opens a tenant's file.
func (s *Service) FileContent(ctx context.Context, tenant, id string) (io.ReadCloser, *File, error) {
	rec, err := s.fileRecord(ctx, tenant, id)
	if err != nil {
		return nil, nil, err
	}
	rc, _, err := s.blobs.Get(ctx, rec.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("read file %s: %w", id, err)
	}
	return rc, &rec.File, nil
}

// ListFiles returns a tenant's files, newest first, optionally of one purpose.
func (s *Service) ListFiles(ctx context.Context, tenant, purpose string) ([]File, error) {
	items, err := s.store.Query(ctx, tenantPK(tenant), store.QueryOptions{Prefix: "FILE#"})
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	out := make([]File, 0, len(items))
	for _, it := range items {
		var rec fileRecord
		if err := json.Unmarshal(it.Data, &rec); err != nil {
			return nil, fmt.Errorf("decode file %s: %w", it.SK, err)
		}
		if purpose == "" || rec.File.Purpose == purpose {
			out = append(out, rec.File)
		}
	}
	sortFiles(out)
	return out, nil
}

// DeleteFile removes a tenant's file and its content.
func (s *Service) DeleteFile(ctx context.Context, tenant, id string) error {
	rec, err := s.fileRecord(ctx, tenant, id)
	if err != nil {
		return err
	}
	if err := s.blobs.Delete(ctx, rec.Key); err != nil {
		return fmt.Errorf("delete file %s: %w", id, err)
	}
	if err := s.store.Delete(ctx, store.Key{PK: tenantPK(tenant), SK: fileSK(id)}, store.WriteOptions{}); err != nil {
		return fmt.Errorf("delete file %s: %w", id, err)
	}
	return nil
}

// addResultFile records a provider result (a metrics CSV) as a file of the tenant.
func (s *Service) addResultFile(ctx context.Context, tenant, key, name string) (string, error) {
	obj, err := s.blobs.Head(ctx, key)
	if err != nil {
		return "", err
	}
	id := newID("file-")
	f := File{ID: id, Object: "file", Bytes: obj.Size, CreatedAt: unix(s.now()), Filename: name, Purpose: PurposeFineTuneResults, Status: "processed"}
	return id, s.putFile(ctx, &fileRecord{File: f, Tenant: tenant, Key: key})
}
