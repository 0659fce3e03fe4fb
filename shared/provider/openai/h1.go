package openai

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// conns is a small HTTP/1.1 client for plain-http upstreams (vLLM, Ollama, LM Studio
// and other servers on the same host or network). net/http's client runs two
// goroutines per connection and hands every request and response between them; on a
// gateway's hot path that costs more CPU than the rest of the request. Here the
// calling goroutine writes the request in one syscall and reads the response itself.
// Responses are parsed by net/http's own ReadResponse, so framing (Content-Length,
// chunked, Connection: close) follows the standard library.
type conns struct {
	addr        string
	dialer      net.Dialer
	maxIdle     int
	idleTimeout time.Duration

	mu      sync.Mutex
	idle    []*conn // oldest first
	reaping bool
}

type conn struct {
	nc       net.Conn
	br       *bufio.Reader
	wbuf     []byte
	lastUsed time.Time
	reused   bool
}

// newConns returns a pool for the host of u, or nil when u is not plain http or a
// proxy is configured for it (net/http then handles the request).
func newConns(u string) *conns {
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "http" || pu.Host == "" {
		return nil
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: pu}); err != nil || p != nil {
		return nil
	}
	addr := pu.Host
	if pu.Port() == "" {
		addr = net.JoinHostPort(pu.Hostname(), "80")
	}
	return &conns{
		addr:   addr,
		dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		// Servers close idle keep-alive connections after a few seconds (uvicorn, which
		// serves vLLM, after 5 s); dropping them sooner avoids writing into a closing one.
		idleTimeout: 4 * time.Second,
		maxIdle:     256,
	}
}

func (p *conns) get(ctx context.Context) (*conn, error) {
	now := time.Now()
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(c.lastUsed) < p.idleTimeout && c.br.Buffered() == 0 {
			p.mu.Unlock()
			c.reused = true
			return c, nil
		}
		c.nc.Close()
	}
	p.mu.Unlock()
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10), wbuf: make([]byte, 0, 2048)}, nil
}

func (p *conns) put(c *conn) {
	c.lastUsed = time.Now()
	p.mu.Lock()
	if len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, c)
		if !p.reaping {
			p.reaping = true
			time.AfterFunc(p.idleTimeout, p.reap)
		}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	c.nc.Close()
}

// reap closes connections idle longer than the idle timeout, so a quiet deployment
// does not hold sockets the server has already closed.
func (p *conns) reap() {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].lastUsed) >= p.idleTimeout {
		p.idle[n].nc.Close()
		n++
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	if len(p.idle) == 0 {
		p.reaping = false
		return
	}
	time.AfterFunc(p.idleTimeout-now.Sub(p.idle[0].lastUsed), p.reap)
}

// inlineBody is the largest body copied behind the headers into the connection's
// write buffer; larger ones are written from where they are, so pooled connections
// never hold on to big buffers.
const inlineBody = 16 << 10

// aLongTimeAgo is a deadline in the past: setting it fails blocked reads and writes at once.
var aLongTimeAgo = time.Unix(1, 0)

// do sends one request (head already holds the request line and headers, without
// Content-Length) and returns the response with a body that hands the connection back
// to the pool once read to the end and closed. ctx cancels the request at any point,
// including while the body is being read.
func (p *conns) do(ctx context.Context, head, body []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		c, err := p.get(ctx)
		if err != nil {
			return nil, err
		}
		c.wbuf = append(c.wbuf[:0], head...)
		c.wbuf = append(c.wbuf, "Content-Length: "...)
		c.wbuf = strconv.AppendInt(c.wbuf, int64(len(body)), 10)
		c.wbuf = append(c.wbuf, "\r\n\r\n"...)
		stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
		var resp *http.Response
		answered := false
		if len(body) <= inlineBody {
			c.wbuf = append(c.wbuf, body...)
			_, err = c.nc.Write(c.wbuf)
		} else {
			// A large body is not copied: head and body go out in one writev.
			bufs := net.Buffers{c.wbuf, body}
			_, err = bufs.WriteTo(c.nc)
		}
		if err == nil {
			// Peek first: an error before the first response byte tells a connection the
			// server had closed apart from a broken response, which ReadResponse would
			// blur into ErrUnexpectedEOF.
			if _, err = c.br.Peek(1); err == nil {
				answered = true
				resp, err = http.ReadResponse(c.br, nil)
			}
		}
		if err != nil {
			stop()
			c.nc.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A kept-alive connection the server closed while it sat idle fails before
			// any response byte: the server never read the request, so send it again.
			if c.reused && !answered && attempt == 0 && staleConn(err) {
				continue
			}
			return nil, err
		}
		resp.Body = &connBody{rc: resp.Body, c: c, p: p, stop: stop, keep: !resp.Close}
		return resp, nil
	}
}

func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// connBody returns the connection to the pool when the body was read to its end,
// and closes it otherwise (a stream cut short, a cancelled request).
type connBody struct {
	rc   io.ReadCloser
	c    *conn
	p    *conns
	stop func() bool
	keep bool
	eof  bool
	done bool
}

func (b *connBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *connBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	// stop reports false when the cancellation already poisoned the deadline.
	if b.stop() && b.eof && b.keep {
		b.p.put(b.c)
		return nil
	}
	return b.c.nc.Close()
}
