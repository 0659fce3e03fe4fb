package platform

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sort"
	"sync"
)

// The OpenAPI document is kept as fragments in openapi/: base.json holds the document's
// header (info, servers, tags, security) and the components several capabilities share;
// every other file holds one capability's paths and the components only it uses. Keeping
// a capability's contract in its own file lets it change without touching the others.
//
//go:embed openapi/*.json
var openAPIFragments embed.FS

var (
	openAPIOnce sync.Once
	openAPIGzip []byte
)

// openAPICompressed returns the merged document gzip-compressed, merging it on first use.
// Only the compressed bytes stay in memory: the merged document is over half a megabyte
// of JSON that the process needs only on the rare GET /openapi.json (audit operation
// names are read from the fragments, see auditOperations), and any memory held for the
// process's life also raises the garbage collector's target by as much again.
func openAPICompressed() []byte {
	openAPIOnce.Do(func() {
		doc, err := mergeOpenAPI(openAPIFragments)
		if err != nil {
			panic(err)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // start-up time matters more than the last 25 KB
		if _, err := zw.Write(doc); err != nil {
			panic(err)
		}
		if err := zw.Close(); err != nil {
			panic(err)
		}
		openAPIGzip = bytes.Clone(buf.Bytes())
	})
	return openAPIGzip
}

// OpenAPI returns the platform's OpenAPI document: the fragments in openapi/ merged into
// one. It panics if two fragments define the same path or component, which the package's
// tests catch before anything ships. Each call returns a fresh copy the caller owns.
func OpenAPI() []byte {
	var buf bytes.Buffer
	if err := writeOpenAPI(&buf); err != nil {
		panic(err) // the bytes were compressed by this process: reading them back cannot fail
	}
	return buf.Bytes()
}

// writeOpenAPI writes the merged document to w.
func writeOpenAPI(w io.Writer) error {
	zr, err := gzip.NewReader(bytes.NewReader(openAPICompressed()))
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, zr); err != nil {
		return err
	}
	return zr.Close()
}

// mergeOpenAPI merges base.json with every other fragment of fsys, in name order.
func mergeOpenAPI(fsys fs.FS) ([]byte, error) {
	names, err := fs.Glob(fsys, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var doc map[string]any
	if err := readFragment(fsys, "openapi/base.json", &doc); err != nil {
		return nil, err
	}
	paths := object(doc, "paths")
	components := object(doc, "components")
	for _, name := range names {
		if name == "openapi/base.json" {
			continue
		}
		var frag map[string]any
		if err := readFragment(fsys, name, &frag); err != nil {
			return nil, err
		}
		for key := range frag {
			if key != "paths" && key != "components" {
				return nil, fmt.Errorf("openapi fragment %s: only paths and components belong in a fragment, not %q", name, key)
			}
		}
		if err := mergeInto(paths, object(frag, "paths"), name, "path"); err != nil {
			return nil, err
		}
		for kind, v := range object(frag, "components") {
			items, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("openapi fragment %s: components.%s is not an object", name, kind)
			}
			if err := mergeInto(object(components, kind), items, name, "component "+kind); err != nil {
				return nil, err
			}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func readFragment(fsys fs.FS, name string, v any) error {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("openapi fragment %s: %w", name, err)
	}
	return nil
}

// object returns m[key] as an object, creating it when absent.
func object(m map[string]any, key string) map[string]any {
	if o, ok := m[key].(map[string]any); ok {
		return o
	}
	o := map[string]any{}
	m[key] = o
	return o
}

func mergeInto(dst, src map[string]any, fragment, what string) error {
	for k, v := range src {
		if _, dup := dst[k]; dup {
			return fmt.Errorf("openapi fragment %s: %s %q is defined twice", fragment, what, k)
		}
		dst[k] = v
	}
	return nil
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = writeOpenAPI(w)
}

// serveLocalOpenAPI serves the document with the local platform itself, at the address
// the client reached it on, as the first server: tools and SDK generators reading
// /openapi.json then call the platform that served it, whatever PLINTH_ADDR is.
func serveLocalOpenAPI(w http.ResponseWriter, r *http.Request) {
	self, _ := json.Marshal(map[string]string{"url": "http://" + r.Host, "description": "This local platform (make run)."})
	doc := bytes.Replace(OpenAPI(), []byte(`"servers": [`), append([]byte(`"servers": [`), append(self, ',')...), 1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
}
