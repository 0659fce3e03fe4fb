package platform

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/rag"
)

// watchInbox ingests files dropped in dir/{tenant}/{kb}/ as if uploaded through the API
// (the local counterpart of an S3 upload under tenants/{tenant}/kb/{kb}/): each file is
// stored, ingested by the same flow, and removed from the inbox once accepted. A file
// that cannot be accepted is moved to dir/rejected/ with a .error note, never dropped.
func (l *Local) watchInbox(ctx context.Context, dir string, every time.Duration) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		l.log.Error("inbox unavailable", "dir", dir, "error", err)
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		l.scanInbox(ctx, dir)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scanInbox makes one pass over the inbox.
func (l *Local) scanInbox(ctx context.Context, dir string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || ctx.Err() != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if d.IsDir() {
			if len(parts) > 0 && parts[0] == "rejected" {
				return filepath.SkipDir
			}
			return nil
		}
		if len(parts) != 3 || strings.HasPrefix(d.Name(), ".") || strings.HasSuffix(d.Name(), ".metadata.json") {
			return nil
		}
		info, err := d.Info()
		if err != nil || time.Since(info.ModTime()) < time.Second {
			return nil // still being written
		}
		l.ingestInboxFile(ctx, dir, path, parts[0], parts[1], parts[2])
		return nil
	})
}

func (l *Local) ingestInboxFile(ctx context.Context, dir, path, tenantID, kb, name string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	up := rag.Upload{Name: name, Body: f}
	if meta, err := readSidecar(path + ".metadata.json"); err == nil {
		up.Metadata = meta
	}
	doc, err := l.RAG.UploadDocument(ctx, tenantID, kb, up)
	f.Close()
	if err != nil {
		l.log.Warn("inbox file rejected", "tenant", tenantID, "kb", kb, "file", name, "error", err)
		rejected := filepath.Join(dir, "rejected", tenantID, kb)
		if mkErr := os.MkdirAll(rejected, 0o700); mkErr == nil {
			_ = os.Rename(path, filepath.Join(rejected, name))
			_ = os.WriteFile(filepath.Join(rejected, name+".error"), []byte(err.Error()+"\n"), 0o600)
		}
		return
	}
	l.log.Info("inbox file accepted", "tenant", tenantID, "kb", kb, "file", name, "document", doc.ID)
	_ = os.Remove(path)
	_ = os.Remove(path + ".metadata.json")
}

func readSidecar(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var side struct {
		MetadataAttributes map[string]any `json:"metadataAttributes"`
	}
	if err := json.Unmarshal(b, &side); err != nil {
		return nil, err
	}
	if side.MetadataAttributes == nil {
		return nil, errors.New("sidecar has no metadataAttributes")
	}
	return side.MetadataAttributes, nil
}
