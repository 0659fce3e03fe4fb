package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/plinth-ai/plinth/shared/blob"
)

// MaxDatasetItems bounds a dataset's size.
const MaxDatasetItems = 100_000

// BlobKeyOf turns a dataset URI into a blob key: "blob://key", "s3://bucket/key" (the
// bucket is the platform's own) or a bare key.
func BlobKeyOf(uri string) (string, error) {
	switch {
	case strings.HasPrefix(uri, "blob://"):
		uri = strings.TrimPrefix(uri, "blob://")
	case strings.HasPrefix(uri, "s3://"):
		rest := strings.TrimPrefix(uri, "s3://")
		_, key, ok := strings.Cut(rest, "/")
		if !ok {
			return "", fmt.Errorf("dataset uri %q has no key: %w", uri, ErrInvalid)
		}
		uri = key
	case strings.Contains(uri, "://"):
		return "", fmt.Errorf("dataset uri %q: only blob:// and s3:// are supported: %w", uri, ErrInvalid)
	}
	uri = strings.TrimPrefix(uri, "/")
	if uri == "" || strings.Contains(uri, "..") {
		return "", fmt.Errorf("dataset uri key %q: %w", uri, ErrInvalid)
	}
	return uri, nil
}

// ParseJSONL reads a dataset in JSON Lines: one item object per line, blank lines
// ignored. Every item is validated and IDs must be unique.
func ParseJSONL(r io.Reader) ([]Item, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var items []Item
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var it Item
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&it); err != nil {
			return nil, fmt.Errorf("dataset line %d: %v: %w", line, err, ErrInvalid)
		}
		if err := it.Validate(len(items)); err != nil {
			return nil, fmt.Errorf("dataset line %d: %w", line, err)
		}
		items = append(items, it)
		if len(items) > MaxDatasetItems {
			return nil, fmt.Errorf("dataset has more than %d items: %w", MaxDatasetItems, ErrInvalid)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dataset: %w", err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("dataset is empty: %w", ErrInvalid)
	}
	if err := uniqueIDs(items); err != nil {
		return nil, err
	}
	return items, nil
}

// EncodeJSONL writes items as JSON Lines.
func EncodeJSONL(w io.Writer, items []Item) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range items {
		if err := enc.Encode(&items[i]); err != nil {
			return err
		}
	}
	return nil
}

// loadDataset returns the suite's items from inline data or the blob store.
func (s *Service) loadDataset(ctx context.Context, su *Suite) ([]Item, error) {
	if len(su.Dataset.Items) > 0 {
		return su.Dataset.Items, nil
	}
	key, err := BlobKeyOf(su.Dataset.URI)
	if err != nil {
		return nil, err
	}
	return s.readJSONL(ctx, key)
}

func (s *Service) readJSONL(ctx context.Context, key string) ([]Item, error) {
	rc, _, err := s.blobs.Get(ctx, key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil, fmt.Errorf("dataset %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("read dataset %s: %w", key, err)
	}
	defer rc.Close()
	items, err := ParseJSONL(rc)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", key, err)
	}
	return items, nil
}

// snapshotKey is where a run's exact dataset is kept.
func snapshotKey(r *Run) string {
	return fmt.Sprintf("eval/%s/%s/runs/%s/dataset.jsonl", r.Tenant, r.SuiteID, r.ID)
}

// ReportKey is where a run's HTML report is saved.
func ReportKey(r *Run) string {
	return fmt.Sprintf("eval/%s/%s/runs/%s/report.html", r.Tenant, r.SuiteID, r.ID)
}

// TrendKey is where a suite's HTML trend page is saved after every run.
func TrendKey(tenant, suite string) string {
	return fmt.Sprintf("eval/%s/%s/trend.html", tenant, suite)
}

// writeSnapshot stores the run's dataset once (a retried task finds it there).
func (s *Service) writeSnapshot(ctx context.Context, key string, items []Item) error {
	var buf bytes.Buffer
	if err := EncodeJSONL(&buf, items); err != nil {
		return err
	}
	_, err := s.blobs.Put(ctx, key, &buf, blob.PutOptions{ContentType: "application/x-ndjson", IfNoneMatch: true})
	if err != nil && !errors.Is(err, blob.ErrPreconditionFailed) {
		return fmt.Errorf("store dataset snapshot: %w", err)
	}
	s.cacheDataset(key, items)
	return nil
}

func (s *Service) cacheDataset(key string, items []Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.datasets) >= 4 {
		for k := range s.datasets {
			delete(s.datasets, k)
			break
		}
	}
	s.datasets[key] = items
}

// snapshot returns a run's dataset, from the cache when possible.
func (s *Service) snapshot(ctx context.Context, key string) ([]Item, error) {
	s.mu.Lock()
	items, ok := s.datasets[key]
	s.mu.Unlock()
	if ok {
		return items, nil
	}
	items, err := s.readJSONL(ctx, key)
	if err != nil {
		return nil, err
	}
	s.cacheDataset(key, items)
	return items, nil
}
