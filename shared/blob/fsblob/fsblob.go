// Package fsblob is the local-filesystem adapter of the blob port: each object is a plain
// file under a root directory at the path its key names, so documents dropped into a
// tenant's folder are ordinary files and stored objects can be inspected with any tool.
//
// Writes go to a temporary file under the root and are renamed into place, so a reader
// sees the whole old or the whole new object. Put with IfNoneMatch links the temporary
// file into place, which fails atomically when the name exists. Content type, user
// metadata and the ETag live in a JSON sidecar under .plinth-meta/; a file without a
// sidecar (dropped in by hand) gets its type from its extension and its ETag by hashing.
//
// Known differences from S3: a key cannot name both an object and the "directory" of
// other objects ("a/b" and "a/b/c"), and the sidecar of a concurrent overwrite may be
// read with the other writer's content for an instant.
package fsblob

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/plinth-ai/plinth/shared/blob"
)

var _ blob.Store = (*Store)(nil)

// ErrInvalidKey means a key cannot name a file under the root (empty, absolute, with "."
// or ".." segments, empty segments, backslashes, NUL, or a reserved .plinth- name).
var ErrInvalidKey = errors.New("fsblob: invalid key")

const (
	metaDir = ".plinth-meta"
	tmpDir  = ".plinth-tmp"
	// reservedPrefix marks the adapter's own top-level directories.
	reservedPrefix = ".plinth-"
	maxKeyLen      = 1024
)

// Option configures New.
type Option func(*Store)

// WithSync makes Put fsync object files before renaming them into place, so a machine
// crash cannot leave a truncated object (slower; off by default).
func WithSync() Option { return func(s *Store) { s.sync = true } }

// Store is a blob.Store on a directory.
type Store struct {
	root string
	sync bool
}

// New returns a store rooted at dir, creating it if needed.
func New(dir string, opts ...Option) (*Store, error) {
	if dir == "" {
		return nil, errors.New("fsblob: empty root directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: root %s: %w", dir, err)
	}
	s := &Store{root: abs}
	for _, o := range opts {
		o(s)
	}
	for _, d := range []string{abs, filepath.Join(abs, metaDir), filepath.Join(abs, tmpDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("fsblob: create %s: %w", d, err)
		}
	}
	return s, nil
}

// Root is the directory holding the objects.
func (s *Store) Root() string { return s.root }

// ValidateKey reports whether key can be stored, wrapping ErrInvalidKey if not.
func ValidateKey(key string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why) }
	switch {
	case key == "":
		return bad("empty")
	case len(key) > maxKeyLen:
		return bad("longer than 1024 bytes")
	case !utf8.ValidString(key):
		return bad("not UTF-8")
	case strings.ContainsAny(key, "\x00\\"):
		return bad("contains NUL or backslash")
	case strings.HasPrefix(key, reservedPrefix):
		return bad("reserved name")
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("empty, . or .. path segment")
		}
	}
	return nil
}

func (s *Store) objPath(key string) string { return filepath.Join(s.root, filepath.FromSlash(key)) }
func (s *Store) metaPath(key string) string {
	return filepath.Join(s.root, metaDir, filepath.FromSlash(key))
}

// sidecar is the JSON stored beside each object.
type sidecar struct {
	ETag        string            `json:"etag"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Size        int64             `json:"size"`
}

// Put stores body under key atomically.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, opts blob.PutOptions) (blob.Object, error) {
	if err := ValidateKey(key); err != nil {
		return blob.Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Object{}, err
	}
	fail := func(err error) (blob.Object, error) {
		return blob.Object{}, fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	tmp, size, sum, err := s.writeTemp(body)
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	dst := s.objPath(key)
	meta := sidecar{ETag: `"` + hex.EncodeToString(sum) + `"`, ContentType: opts.ContentType, Metadata: opts.Metadata, Size: size}
	if meta.ContentType == "" {
		meta.ContentType = guessType(key)
	}
	if opts.IfNoneMatch {
		if err := intoDir(dst, func() error { return os.Link(tmp, dst) }); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return blob.Object{}, fmt.Errorf("fsblob: put %s: %w", key, blob.ErrPreconditionFailed)
			}
			return fail(err)
		}
		if err := s.writeSidecar(key, meta); err != nil {
			return fail(err)
		}
	} else {
		if err := s.writeSidecar(key, meta); err != nil {
			return fail(err)
		}
		if err := intoDir(dst, func() error { return os.Rename(tmp, dst) }); err != nil {
			return fail(err)
		}
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return fail(err)
	}
	return meta.object(key, fi), nil
}

// intoDir creates dst's directory and runs place (a rename or link to dst), retrying when
// a concurrent Delete pruned the directory in between.
func intoDir(dst string, place func() error) error {
	var err error
	for range 3 {
		if err = os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err = place(); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

func (s *Store) writeTemp(body io.Reader) (name string, size int64, sum []byte, err error) {
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "obj-*")
	if err != nil {
		return "", 0, nil, err
	}
	h := md5.New()
	size, err = io.Copy(io.MultiWriter(f, h), body)
	if err == nil && s.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", 0, nil, err
	}
	return f.Name(), size, h.Sum(nil), nil
}

func (s *Store) writeSidecar(key string, meta sidecar) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	dst := s.metaPath(key)
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "meta-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = intoDir(dst, func() error { return os.Rename(f.Name(), dst) })
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// describe builds the object description of key's file fi from its sidecar, or from the
// file itself when the sidecar is missing or stale.
func (s *Store) describe(key string, fi fs.FileInfo) (blob.Object, error) {
	var meta sidecar
	b, err := os.ReadFile(s.metaPath(key))
	if err == nil {
		err = json.Unmarshal(b, &meta)
	}
	if err != nil || meta.Size != fi.Size() {
		f, oerr := os.Open(s.objPath(key))
		if oerr != nil {
			return blob.Object{}, oerr
		}
		defer f.Close()
		h := md5.New()
		if _, err := io.Copy(h, f); err != nil {
			return blob.Object{}, err
		}
		meta = sidecar{ETag: `"` + hex.EncodeToString(h.Sum(nil)) + `"`, ContentType: guessType(key), Size: fi.Size()}
	}
	return meta.object(key, fi), nil
}

func (m sidecar) object(key string, fi fs.FileInfo) blob.Object {
	obj := blob.Object{Key: key, Size: fi.Size(), ETag: m.ETag, LastModified: fi.ModTime(), ContentType: m.ContentType}
	if len(m.Metadata) > 0 {
		obj.Metadata = make(map[string]string, len(m.Metadata))
		for k, v := range m.Metadata {
			obj.Metadata[k] = v
		}
	}
	return obj
}

func guessType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// stat returns key's file info, or blob.ErrNotFound when no regular file has the key.
func (s *Store) stat(key string) (fs.FileInfo, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	fi, err := os.Stat(s.objPath(key))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR) || (err == nil && !fi.Mode().IsRegular()) {
		return nil, blob.ErrNotFound
	}
	return fi, err
}

// Get opens the object; the caller closes the body.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, blob.Object{}, err
	}
	if err := ValidateKey(key); err != nil {
		return nil, blob.Object{}, err
	}
	f, err := os.Open(s.objPath(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR) {
			err = blob.ErrNotFound
		}
		return nil, blob.Object{}, fmt.Errorf("fsblob: get %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = blob.ErrNotFound
	}
	var obj blob.Object
	if err == nil {
		obj, err = s.describe(key, fi)
	}
	if err != nil {
		f.Close()
		return nil, blob.Object{}, fmt.Errorf("fsblob: get %s: %w", key, err)
	}
	return f, obj, nil
}

// Head describes the object.
func (s *Store) Head(ctx context.Context, key string) (blob.Object, error) {
	if err := ctx.Err(); err != nil {
		return blob.Object{}, err
	}
	fi, err := s.stat(key)
	if err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: head %s: %w", key, err)
	}
	obj, err := s.describe(key, fi)
	if err != nil {
		return blob.Object{}, fmt.Errorf("fsblob: head %s: %w", key, err)
	}
	return obj, nil
}

// Delete removes the object and its sidecar, then any directories left empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.stat(key); err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("fsblob: delete %s: %w", key, err)
	}
	for _, p := range []string{s.objPath(key), s.metaPath(key)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("fsblob: delete %s: %w", key, err)
		}
	}
	s.pruneDirs(filepath.Join(s.root, metaDir), path.Dir(key))
	s.pruneDirs(s.root, path.Dir(key))
	return nil
}

// pruneDirs removes dir (relative to base) and its parents while they are empty.
func (s *Store) pruneDirs(base, dir string) {
	for dir != "." && dir != "/" && dir != "" {
		if os.Remove(filepath.Join(base, filepath.FromSlash(dir))) != nil {
			return
		}
		dir = path.Dir(dir)
	}
}

// List returns the objects whose keys start with prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Walk only the deepest directory the prefix fully names.
	start := s.root
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		dir := prefix[:i]
		if ValidateKey(dir) != nil {
			return []blob.Object{}, nil
		}
		start = s.objPath(dir)
	}
	out := []blob.Object{}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if p != start && strings.HasPrefix(key, reservedPrefix) && !strings.Contains(key, "/") {
				return filepath.SkipDir
			}
			// Skip directories that cannot hold a key with the prefix.
			if p != start && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) || ValidateKey(key) != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			return err
		}
		obj, err := s.describe(key, fi)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, obj)
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("fsblob: list %q: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
