// Command mockupstream serves the fake OpenAI-compatible upstream in its own process, so
// load tests can measure the gateway's CPU apart from the upstream's, and so a fault can
// be tried against a running platform (-fault). It prints the base URL on its first line
// of output and serves until interrupted.
//
//	go run ./test/cmd/mockupstream -addr 127.0.0.1:0 -latency 0s
//	go run ./test/cmd/mockupstream -fault cut -after 4
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	latency := flag.Duration("latency", 0, "delay before each answer (time to first byte)")
	chunkDelay := flag.Duration("chunk-delay", 0, "delay between streamed chunks")
	reply := flag.String("reply", "Hello from the mock upstream.", "assistant reply text")
	key := flag.String("api-key", "", "require this bearer key")
	fault := flag.String("fault", "", "misbehave on every request: one of "+strings.Join(providertest.FaultNames, ", "))
	after := flag.Int("after", 3, "chunks sent before a mid-stream fault")
	delay := flag.Duration("delay", 5*time.Second, "wait of slow-start (and Retry-After of 429-retry-after)")
	flag.Parse()

	opts := []providertest.Option{providertest.WithLatency(*latency), providertest.WithChunkDelay(*chunkDelay), providertest.WithReply(*reply)}
	if *key != "" {
		opts = append(opts, providertest.WithAPIKey(*key))
	}
	h := providertest.NewOpenAIHandler(opts...)
	if *fault != "" {
		f, err := providertest.ParseFault(*fault, *after, *delay)
		if err != nil {
			log.Fatal(err)
		}
		h.SetFault(f)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s/v1\n", ln.Addr())
	os.Stdout.Sync()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
