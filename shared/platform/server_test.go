package platform

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// serveMux answers every request as notFound(mux, mux) does, with one lookup.
func TestServeMuxAnswersAsTheMux(t *testing.T) {
	root := http.NewServeMux()
	echo := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pattern=%q path=%q", r.Pattern, r.PathValue("path"))
	}
	root.HandleFunc("/v1/", echo)
	root.HandleFunc("GET /healthz", echo)
	root.HandleFunc("GET /console/{path...}", echo)
	root.HandleFunc("POST /mcp", echo)
	for _, tc := range []struct{ method, target string }{
		{"POST", "/v1/chat/completions"},
		{"GET", "/v1/models/a/b"},
		{"GET", "/v1"}, // redirected to /v1/
		{"GET", "/healthz"},
		{"HEAD", "/healthz"},
		{"POST", "/healthz"}, // 405
		{"GET", "/console/app/index.html"},
		{"GET", "/console/a%2Fb"},
		{"GET", "/mcp"}, // 405
		{"POST", "/mcp"},
		{"GET", "/nowhere"},
		{"GET", "/v1/../healthz"}, // cleaned by redirect
		{"GET", "//v1/x"},
		{"OPTIONS", "*"},
	} {
		serve := func(h http.Handler) *httptest.ResponseRecorder {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.target == "*" {
				r.RequestURI = "*"
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
		got, want := serve(serveMux(root)), serve(notFound(root, root))
		if got.Code != want.Code || got.Body.String() != want.Body.String() || !reflect.DeepEqual(got.Header(), want.Header()) {
			t.Errorf("%s %s: got %d %v %s; want %d %v %s", tc.method, tc.target,
				got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
		}
	}
}
