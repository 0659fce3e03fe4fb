package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// runEnv prints shell exports for the local platform this environment configures
// (PLINTH_ADDR, PLINTH_DATA, PLINTH_ADMIN_KEY, as serve reads them), so a second terminal
// can run eval "$(make -s env)": PLINTH (the base URL), ADMIN (the admin key) and KEY (the
// demo tenant's key). It fails when the data directory holds no platform yet.
func runEnv(stdout, stderr io.Writer) int {
	dir := env("PLINTH_DATA", ".plinth")
	admin := os.Getenv("PLINTH_ADMIN_KEY")
	if admin == "" {
		b, err := os.ReadFile(filepath.Join(dir, "admin-key"))
		if err != nil {
			fmt.Fprintf(stderr, "plinth env: no local platform in %s yet: start it with make run (it keeps its keys there)\n", dir)
			return 1
		}
		admin = strings.TrimSpace(string(b))
	}
	demo, err := os.ReadFile(filepath.Join(dir, "demo-key"))
	if err != nil {
		fmt.Fprintf(stderr, "plinth env: no local platform in %s yet: start it with make run (it keeps its keys there)\n", dir)
		return 1
	}
	fmt.Fprintf(stdout, "export PLINTH=%s ADMIN=%s KEY=%s\n", baseURL(env("PLINTH_ADDR", defaultAddr)), admin, strings.TrimSpace(string(demo)))
	return 0
}

// baseURL turns a listen address into the URL clients on this machine use: an empty or
// unspecified host means loopback.
func baseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
