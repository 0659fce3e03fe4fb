package audit

import "testing"

func TestNormalizePattern(t *testing.T) {
	for in, want := range map[string]string{
		"POST /v1/chat/completions":       "POST /v1/chat/completions",
		"GET /admin/tenants/{id}":         "GET /admin/tenants/{}",
		"GET /v1/models/{id...}":          "GET /v1/models/{...}",
		"DELETE /admin/a/{x}/b/{rest...}": "DELETE /admin/a/{}/b/{...}",
		"GET /broken/{id":                 "GET /broken/{id",
		"":                                "",
	} {
		if got := normalizePattern(in); got != want {
			t.Errorf("normalizePattern(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = normalizePattern("POST /v1/chat/completions") }); n != 0 {
		t.Errorf("a pattern without wildcards costs %v allocations", n)
	}
}
