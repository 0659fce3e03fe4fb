// Package console serves Plinth's web console: static ES modules, a stylesheet and
// hand-drawn SVG charts embedded in the binary, with no build step and nothing fetched
// from outside the platform. The console calls the platform's own API with the
// credential the user signs in with, which it keeps in sessionStorage only.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

//go:embed assets
var assets embed.FS

// Prefix is where the console is served.
const Prefix = "/console/"

// contentSecurityPolicy allows only the console's own scripts, styles and API calls:
// no inline script, no third-party origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// contentTypes types the console's assets by extension. The console ships a handful of
// file kinds, so a small explicit table answers instead of mime.TypeByExtension, which
// loads the system's MIME databases (hundreds of kilobytes held for the process's life)
// and could type the same file differently from one host to another.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
}

type asset struct {
	body []byte
	etag string
	typ  string
}

// Handler serves the console under Prefix: files by path, and index.html for every
// other path so deep links (/console/models) work. Files are revalidated by ETag.
func Handler() http.Handler {
	files := map[string]asset{}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err)
	}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		typ, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("console asset %s: no content type for %q files", p, path.Ext(p))
		}
		files[p] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, typ: typ}
		return nil
	})
	if err != nil {
		panic(err)
	}
	modTime := time.Time{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpapi.WriteError(w, httpapi.Errorf(http.StatusMethodNotAllowed, httpapi.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		p := strings.TrimPrefix(r.URL.Path, Prefix)
		a, ok := files[p]
		if !ok {
			if path.Ext(p) != "" {
				httpapi.WriteError(w, httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "no such console file: %s", p))
				return
			}
			a = files["index.html"]
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("Content-Type", a.typ)
		http.ServeContent(w, r, "", modTime, bytes.NewReader(a.body))
	})
}
