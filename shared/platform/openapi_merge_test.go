package platform

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMergeOpenAPIRefusesDuplicates(t *testing.T) {
	base := `{"openapi":"3.1.0","paths":{"/healthz":{}},"components":{"schemas":{"Error":{}}}}`
	cases := map[string]struct {
		frag string
		want string
	}{
		"duplicate path":      {`{"paths":{"/healthz":{}}}`, `path "/healthz" is defined twice`},
		"duplicate component": {`{"components":{"schemas":{"Error":{}}}}`, `component schemas "Error" is defined twice`},
		"stray key":           {`{"info":{}}`, `only paths and components`},
		"bad json":            {`{"paths":`, `openapi/x.json`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"openapi/base.json": {Data: []byte(base)},
				"openapi/x.json":    {Data: []byte(tc.frag)},
			}
			_, err := mergeOpenAPI(fsys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestMergeOpenAPICombinesFragments(t *testing.T) {
	fsys := fstest.MapFS{
		"openapi/base.json": {Data: []byte(`{"openapi":"3.1.0","paths":{"/healthz":{}},"components":{"schemas":{"Error":{}}}}`)},
		"openapi/a.json":    {Data: []byte(`{"paths":{"/v1/a":{}},"components":{"schemas":{"A":{}},"parameters":{"P":{}}}}`)},
		"openapi/b.json":    {Data: []byte(`{"paths":{"/v1/b":{}}}`)},
	}
	raw, err := mergeOpenAPI(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]any            `json:"paths"`
		Components map[string]map[string]any `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/healthz", "/v1/a", "/v1/b"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("path %s missing", p)
		}
	}
	if _, ok := doc.Components["schemas"]["A"]; !ok {
		t.Error("schema A missing")
	}
	if _, ok := doc.Components["parameters"]["P"]; !ok {
		t.Error("parameter P missing")
	}
}
