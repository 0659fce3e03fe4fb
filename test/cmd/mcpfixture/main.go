// Command mcpfixture serves the conformance fixture MCP server on an address (default
// 127.0.0.1:3001), to register in the tool catalog of a local platform:
//
//	go run ./test/cmd/mcpfixture -addr 127.0.0.1:3001
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/plinth-ai/plinth/test/mcpfixture"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "listen address")
	flag.Parse()
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpfixture.New().Handler())
	log.Printf("MCP fixture at http://%s/mcp", *addr)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
