package platform

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// testServer serves h with the platform's server settings at short deadlines.
func testServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := NewHTTPServer(h, WithBodyTimeout(300*time.Millisecond), WithWriteIdleTimeout(300*time.Millisecond), WithReadHeaderTimeout(time.Second))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestTricklingBodiesAreCutOff: clients that send a body one byte at a time (the
// slowloris pattern) are answered 408 or disconnected long before their body is
// complete, every one of them.
func TestTricklingBodiesAreCutOff(t *testing.T) {
	addr := testServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := httpapi.DecodeJSON(w, r, &v, 0); err != nil {
			httpapi.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	const clients, bodyLen = 20, 2000
	var wg sync.WaitGroup
	results := make([]string, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = trickle(addr, bodyLen)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if !strings.HasPrefix(r, "cut off") {
			t.Errorf("client %d: %s", i, r)
		}
	}
}

// trickle sends a POST whose body arrives one byte every 20 ms and reports how it ended.
func trickle(addr string, bodyLen int) string {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /x HTTP/1.1\r\nHost: plinth\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", bodyLen)
	answered := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answered <- "closed"
			return
		}
		answered <- resp.Status
	}()
	for sent := 0; sent < bodyLen; sent++ {
		select {
		case how := <-answered:
			if how == "closed" || strings.HasPrefix(how, "408") {
				return fmt.Sprintf("cut off after %d of %d bytes (%s)", sent, bodyLen, how)
			}
			return "answered " + how
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := conn.Write([]byte(" ")); err != nil {
			return fmt.Sprintf("cut off after %d of %d bytes (write: %v)", sent, bodyLen, err)
		}
	}
	return fmt.Sprintf("the whole %d-byte body was accepted at one byte per 20 ms", bodyLen)
}

// TestLongStreamOutlivesDeadlines: a streamed response that keeps writing lasts well past
// the body and write deadlines, its request context intact.
func TestLongStreamOutlivesDeadlines(t *testing.T) {
	const chunks = 30
	addr := testServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := httpapi.DecodeJSON(w, r, &v, 0); err != nil {
			httpapi.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range chunks {
			if r.Context().Err() != nil {
				fmt.Fprintf(w, "data: canceled\n\n")
				return
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(40 * time.Millisecond) // 1.2 s in all: four times each deadline
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	resp, err := http.Post("http://"+addr+"/chat", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("stream broke: %v after %q", err, b)
	}
	if got := strings.Count(string(b), "data: "); got != chunks+1 || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Fatalf("stream: %q", b)
	}
}

// TestStalledReaderIsCutOff: a client that stops reading a large response does not hold
// the handler: its write fails once it can make no progress.
func TestStalledReaderIsCutOff(t *testing.T) {
	failed := make(chan error, 1)
	addr := testServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range 4096 { // 256 MB: far more than socket buffers hold
			if _, err := w.Write(chunk); err != nil {
				failed <- err
				return
			}
		}
		failed <- nil
	}))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /big HTTP/1.1\r\nHost: plinth\r\n\r\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	select {
	case err := <-failed:
		if err == nil {
			t.Fatal("256 MB were written to a client that reads nothing")
		}
	case <-ctx.Done():
		t.Fatal("the handler is still blocked writing to a client that stopped reading")
	}
}
