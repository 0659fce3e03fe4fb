package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

// The floor is the cheapest possible gateway: a separate Go process that reads the
// request, forwards it to the upstream over a keep-alive connection and copies the
// answer back, with nothing else. Measured the same way as the platform, it shows how
// much of the platform's cost is the process hop itself on this machine.
const (
	envProxyAddr     = "PLINTH_BENCH_PROXY_ADDR"
	envProxyUpstream = "PLINTH_BENCH_PROXY_UPSTREAM"
)

// serveFloorProxy runs this program as the floor proxy until SIGTERM.
func serveFloorProxy(addr, upstream string) error {
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, upstream+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &http.Server{Addr: addr, Handler: h}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// floorProxy is the floor proxy running as a child process.
type floorProxy struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

// startFloorProxy re-executes this program as the floor proxy in front of upstream.
func startFloorProxy(upstream string) (*floorProxy, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := platformtest.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envProxyAddr+"="+addr, envProxyUpstream+"="+upstream)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &floorProxy{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() { cmd.Wait(); close(f.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return f, nil
		}
		select {
		case <-f.done:
			return nil, errors.New("the floor proxy exited before listening")
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			f.stop()
			return nil, fmt.Errorf("the floor proxy is not listening on %s", addr)
		}
	}
}

func (f *floorProxy) pid() int { return f.cmd.Process.Pid }

func (f *floorProxy) stop() {
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
}
