package platform

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLocalOpenAPINamesItsOwnAddress checks that the local platform's document lists the
// address it was reached on as its first server, not a fixed port.
func TestLocalOpenAPINamesItsOwnAddress(t *testing.T) {
	l := newProbePlatform(t)
	srv := httptest.NewServer(l.Handler)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("the served document is not JSON: %v", err)
	}
	if len(doc.Servers) < 2 || doc.Servers[0].URL != srv.URL {
		t.Fatalf("servers = %+v, want %s first", doc.Servers, srv.URL)
	}
	for _, s := range doc.Servers[1:] {
		if strings.HasPrefix(s.URL, "http://127.0.0.1") {
			t.Errorf("a fixed local address is still listed: %s", s.URL)
		}
	}
}
