package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

func TestWriteErrorShape(t *testing.T) {
	cases := []struct {
		err        error
		status     int
		typ, code  string
		param      string
		retryAfter string
	}{
		{httpapi.BadRequest("model", "missing"), 400, "invalid_request_error", "invalid_request_error", "model", ""},
		{&httpapi.Error{Status: 429, Code: "rate_limit_exceeded", Message: "slow", RetryAfter: 1500 * time.Millisecond}, 429, "rate_limit_error", "rate_limit_exceeded", "", "2"},
		{&httpapi.Error{Status: 429, Type: "insufficient_quota", Code: "insufficient_quota", Message: "budget"}, 429, "insufficient_quota", "insufficient_quota", "", ""},
		{httpapi.Errorf(401, "invalid_api_key", "no"), 401, "authentication_error", "invalid_api_key", "", ""},
		{errors.New("secret internal detail"), 500, "api_error", "internal_error", "", ""},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		httpapi.WriteError(w, tc.err)
		var env struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Code    *string `json:"code"`
				Param   *string `json:"param"`
			} `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		e := env.Error
		if w.Code != tc.status || e.Type != tc.typ || e.Code == nil || *e.Code != tc.code || w.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%v: got %d %+v retry-after %q", tc.err, w.Code, e, w.Header().Get("Retry-After"))
		}
		if (tc.param == "") != (e.Param == nil) || (e.Param != nil && *e.Param != tc.param) {
			t.Errorf("%v: param %v, want %q", tc.err, e.Param, tc.param)
		}
		if strings.Contains(w.Body.String(), "secret internal detail") {
			t.Errorf("internal error leaked: %s", w.Body)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		body   string
		ctype  string
		status int
	}{
		{`{"a":1}`, "application/json", 0},
		{`{"a":1}`, "", 0},
		{``, "application/json", 400},
		{`{"a":`, "application/json", 400},
		{`{"a":1} {"b":2}`, "application/json", 400},
		{`{"a":"` + strings.Repeat("x", 100) + `"}`, "application/json", 413},
		{`{"a":1}`, "multipart/form-data; boundary=x", 415},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		if tc.ctype != "" {
			r.Header.Set("Content-Type", tc.ctype)
		}
		var v map[string]any
		err := httpapi.DecodeJSON(httptest.NewRecorder(), r, &v, 64)
		var he *httpapi.Error
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("%q: %v", tc.body, err)
		case tc.status != 0 && (!errors.As(err, &he) || he.Status != tc.status):
			t.Errorf("%q: err %v, want status %d", tc.body, err, tc.status)
		}
	}
}

// A JSON response goes out with its length, in one piece, even when the handler flushes
// it before doing more work (the gateway answers a completion before its bookkeeping):
// without the length, the flush would turn it into a chunked response that needs a
// second write for its end.
func TestWriteJSONSendsLengthWhenFlushed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"answer": "<ok> & done"})
		w.(http.Flusher).Flush()
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	const want = `{"answer":"<ok> & done"}` + "\n"
	if resp.ContentLength != int64(len(want)) || len(resp.TransferEncoding) != 0 {
		t.Errorf("Content-Length %d, Transfer-Encoding %v; want %d and none", resp.ContentLength, resp.TransferEncoding, len(want))
	}
	if got["answer"] != "<ok> & done" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("body %v, content type %q", got, resp.Header.Get("Content-Type"))
	}
}

func TestPattern(t *testing.T) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	v1, admin := http.NewServeMux(), http.NewServeMux()
	v1.Handle("POST /v1/chat/completions", ok)
	v1.Handle("GET /v1/models/{id...}", ok)
	admin.Handle("GET /admin/tenants/{id}", ok)

	req := func(method, target string) *http.Request {
		r := httptest.NewRequest(method, target, nil)
		return r.WithContext(httpapi.WithRequestID(r.Context(), "req_1"))
	}
	r := req("POST", "/v1/chat/completions")
	if got := httpapi.RequestID(r.Context()); got != "req_1" {
		t.Fatalf("RequestID = %q", got)
	}
	for i := 0; i < 2; i++ { // the second lookup is the remembered one
		if got := httpapi.Pattern(v1, r); got != "POST /v1/chat/completions" {
			t.Fatalf("lookup %d: Pattern = %q", i, got)
		}
	}
	// Another mux, or the same request with another method or path, is looked up again.
	if got := httpapi.Pattern(admin, r); got != "" {
		t.Errorf("admin mux for a /v1 path: %q", got)
	}
	if got := httpapi.Pattern(v1, r); got != "POST /v1/chat/completions" {
		t.Errorf("back to v1: %q", got)
	}
	get := r.Clone(r.Context())
	get.Method = "GET"
	if got := httpapi.Pattern(v1, get); got != "" {
		t.Errorf("GET on a POST route: %q", got)
	}
	moved := r.WithContext(r.Context())
	moved.URL.Path = "/v1/models/a/b"
	if got := httpapi.Pattern(v1, moved); got != "" {
		t.Errorf("POST to a model path: %q", got)
	}
	moved.Method = "GET"
	if got := httpapi.Pattern(v1, moved); got != "GET /v1/models/{id...}" {
		t.Errorf("GET model: %q", got)
	}
	// Without a request ID in the context, every lookup asks the mux.
	plain := httptest.NewRequest("GET", "/admin/tenants/t1", nil)
	if got := httpapi.Pattern(admin, plain); got != "GET /admin/tenants/{id}" {
		t.Errorf("no request ID: %q", got)
	}
	if got := httpapi.RequestID(plain.Context()); got != "" {
		t.Errorf("RequestID without one = %q", got)
	}
}
