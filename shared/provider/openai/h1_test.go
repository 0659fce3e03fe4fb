package openai

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

// countingServer starts the fake upstream and counts the TCP connections it accepts.
func countingServer(t *testing.T, opts ...providertest.Option) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(providertest.NewOpenAIHandler(opts...))
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		n.Add(1)
		return ctx
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, providertest.WithReply("a b c"))
	c := New(srv.URL+"/v1", "m", "k")
	if c.conns == nil {
		t.Fatal("plain-http upstream not on the lean client")
	}
	for i := 0; i < 5; i++ {
		if _, err := c.Chat(context.Background(), chatReq("hi")); err != nil {
			t.Fatal(err)
		}
		s, err := c.ChatStream(context.Background(), chatReq("hi"))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, _, err := drain(t, s); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Embed(context.Background(), &provider.EmbeddingRequest{Input: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d connections for 15 sequential requests, want 1", got)
	}
}

func TestStreamClosedEarlyDropsConnection(t *testing.T) {
	t.Parallel()
	// The chunk delay keeps the body unfinished when the stream is closed.
	srv, conns := countingServer(t, providertest.WithReply("one two three four five six"), providertest.WithChunkDelay(10*time.Second))
	c := New(srv.URL+"/v1", "m", "")
	s, err := c.ChatStream(context.Background(), chatReq("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	s.Close() // mid-stream: the connection still holds unread chunks
	if _, err := c.Chat(context.Background(), chatReq("hi")); err != nil {
		t.Fatal(err)
	}
	if got := conns.Load(); got != 2 {
		t.Errorf("%d connections, want 2: a half-read connection must not be reused", got)
	}
}

func TestCancelMidStream(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, providertest.WithReply("one two three"), providertest.WithChunkDelay(10*time.Second))
	c := New(srv.URL+"/v1", "m", "")
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.ChatStream(ctx, chatReq("hi"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Recv()
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		pe, ok := provider.AsError(err)
		if !ok || pe.Kind != provider.KindTimeout || !errors.Is(err, context.Canceled) && ctx.Err() == nil {
			t.Errorf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Recv did not return after the context was cancelled")
	}
}

// oneShotServer answers one request per connection and then closes it without saying
// so, as servers do when their keep-alive timeout fires.
func oneShotServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int64
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer nc.Close()
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				body := `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`
				io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/v1", &accepted
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStaleKeepAliveIsRetried(t *testing.T) {
	t.Parallel()
	u, accepted := oneShotServer(t)
	c := New(u, "m", "")
	for i := 0; i < 3; i++ {
		resp, err := c.Chat(context.Background(), chatReq("hi"))
		if err != nil {
			pe, _ := provider.AsError(err)
			t.Fatalf("request %d: %v (%#v)", i, err, pe.Err)
		}
		if resp.Choices[0].Message.Content.String() != "ok" {
			t.Fatalf("request %d: %+v", i, resp)
		}
	}
	if accepted.Load() < 3 {
		t.Errorf("%d connections for 3 requests on a server that closes each", accepted.Load())
	}
}

func TestConnectionCloseIsHonoured(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		providertest.NewOpenAIHandler().ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(srv.URL+"/v1", "m", "")
	for i := 0; i < 3; i++ {
		if _, err := c.Chat(context.Background(), chatReq("hi")); err != nil {
			t.Fatal(err)
		}
	}
	if n.Load() != 3 {
		t.Errorf("%d connections, want 3", n.Load())
	}
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, providertest.WithReply("x y"))
	c := New(srv.URL+"/v1", "m", "")
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if i%2 == 0 {
					if _, err := c.Chat(context.Background(), chatReq("hi")); err != nil {
						errs <- err
					}
					continue
				}
				s, err := c.ChatStream(context.Background(), chatReq("hi"))
				if err != nil {
					errs <- err
					continue
				}
				for {
					if _, err := s.Recv(); err != nil {
						if !errors.Is(err, io.EOF) {
							errs <- err
						}
						break
					}
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if conns.Load() > 16 {
		t.Errorf("%d connections for 16 concurrent callers", conns.Load())
	}
}

func TestUnsafeHeadersUseNetHTTP(t *testing.T) {
	t.Parallel()
	if c := New("http://127.0.0.1:1/v1", "m", "key\r\nX-Injected: 1"); c.conns != nil {
		t.Error("a key with a line break went to the lean client")
	}
	if c := New("https://api.openai.com/v1", "m", "k"); c.conns != nil {
		t.Error("https went to the lean client")
	}
	if c := New("http://127.0.0.1:1/v1", "m", "k", WithStdlibHTTP()); c.conns != nil {
		t.Error("WithStdlibHTTP ignored")
	}
}

func TestIdleConnectionsAreReaped(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t)
	c := New(srv.URL+"/v1", "m", "")
	for i := 0; i < 2; i++ {
		if _, err := c.Chat(context.Background(), chatReq("hi")); err != nil {
			t.Fatal(err)
		}
	}
	c.conns.mu.Lock()
	if len(c.conns.idle) != 1 || !c.conns.reaping {
		t.Fatalf("idle %d reaping %v", len(c.conns.idle), c.conns.reaping)
	}
	c.conns.idle[0].lastUsed = time.Now().Add(-time.Minute)
	c.conns.mu.Unlock()
	c.conns.reap()
	c.conns.mu.Lock()
	n := len(c.conns.idle)
	c.conns.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d expired connections kept", n)
	}
	if _, err := c.Chat(context.Background(), chatReq("hi")); err != nil {
		t.Fatal(err)
	}
	if conns.Load() != 2 {
		t.Errorf("%d connections, want a fresh one after reaping", conns.Load())
	}
}

func TestLargeRequestBody(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, providertest.WithReply("ok"))
	c := New(srv.URL+"/v1", "m", "")
	big := strings.Repeat("lorem ipsum ", 10000) // 120 KB
	for i := 0; i < 2; i++ {
		if _, err := c.Chat(context.Background(), chatReq(big)); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := srv.Config.Handler.(*providertest.Handler).LastRequest()
	if !strings.Contains(string(body), big) {
		t.Error("the upstream did not receive the whole prompt")
	}
	c.conns.mu.Lock()
	defer c.conns.mu.Unlock()
	for _, conn := range c.conns.idle {
		if cap(conn.wbuf) > inlineBody+4096 {
			t.Errorf("pooled connection holds a %d-byte buffer", cap(conn.wbuf))
		}
	}
}
