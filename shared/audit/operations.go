package audit

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Operations names actions after the OpenAPI document's operationIds, so an audit event
// says "createTenant" or "uploadDocument" and every documented route is named without
// its handler knowing about auditing.
type Operations struct {
	byPattern map[string]string
}

// NewOperations reads OpenAPI 3 documents, or fragments of one that each hold some of its
// paths: each operation's route is its x-plinth-route when present (the server's net/http
// pattern), else "METHOD path". Only operationIds and routes are decoded, so reading a
// large document costs little more than scanning it.
func NewOperations(openAPI ...[]byte) (*Operations, error) {
	ops := &Operations{byPattern: map[string]string{}}
	// Two operations may share a route (GET /admin/eval-runs/{id}.csv is served by the
	// handler of GET /admin/eval-runs/{id}): the one documented at the route's own path
	// names it, else the smaller operationId, whatever order the documents are read in.
	routed := map[string]bool{}
	for _, raw := range openAPI {
		var doc struct {
			Paths map[string]map[string]operationNames `json:"paths"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("audit: read OpenAPI document: %w", err)
		}
		for path, methods := range doc.Paths {
			for method, op := range methods {
				if op.OperationID == "" {
					continue // "parameters" and other non-operation members
				}
				pattern := strings.ToUpper(method) + " " + path
				if op.Route != "" {
					pattern = op.Route
				}
				pattern = normalizePattern(pattern)
				viaRoute := op.Route != "" && normalizePattern(strings.ToUpper(method)+" "+path) != pattern
				if prev, ok := ops.byPattern[pattern]; ok {
					if viaRoute && !routed[pattern] || viaRoute == routed[pattern] && prev < op.OperationID {
						continue
					}
				}
				ops.byPattern[pattern] = op.OperationID
				routed[pattern] = viaRoute
			}
		}
	}
	return ops, nil
}

// operationNames is the part of an OpenAPI operation that names it. A path item's other
// members ("parameters", "summary", ...) are not operations and decode to nothing.
type operationNames struct {
	OperationID string `json:"operationId"`
	Route       string `json:"x-plinth-route"`
}

func (o *operationNames) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	var v struct {
		OperationID string `json:"operationId"`
		Route       string `json:"x-plinth-route"`
	}
	if json.Unmarshal(b, &v) != nil {
		return nil // not an operation
	}
	*o = v
	return nil
}

// Name returns the operationId served by the net/http pattern, or "" when undocumented.
func (o *Operations) Name(pattern string) string {
	if o == nil {
		return ""
	}
	return o.byPattern[normalizePattern(pattern)]
}

// normalizePattern makes patterns comparable whatever their wildcards are called:
// "{id}" becomes "{}", "{arn...}" becomes "{...}".
func normalizePattern(p string) string {
	if strings.IndexByte(p, '{') < 0 {
		return p // nothing to rename (and nothing to copy)
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			b.WriteString(p)
			return b.String()
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			b.WriteString(p)
			return b.String()
		}
		b.WriteString(p[:i])
		if strings.HasSuffix(p[i:i+j], "...") {
			b.WriteString("{...}")
		} else {
			b.WriteString("{}")
		}
		p = p[i+j+1:]
	}
}

// pathParams extracts the wildcard values of a net/http pattern ("POST /a/{id}/b",
// with or without method) from a request path.
func pathParams(pattern, path string) map[string]string {
	if _, rest, ok := strings.Cut(pattern, " "); ok {
		pattern = rest
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // drop a host
	}
	pseg := strings.Split(strings.Trim(pattern, "/"), "/")
	rseg := strings.Split(strings.Trim(path, "/"), "/")
	out := map[string]string{}
	for i, s := range pseg {
		if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") || i >= len(rseg) {
			continue
		}
		name := strings.TrimSuffix(strings.Trim(s, "{}"), "...")
		if strings.HasSuffix(s, "...}") {
			out[name] = strings.Join(rseg[i:], "/")
			break
		}
		out[name] = rseg[i]
	}
	return out
}
