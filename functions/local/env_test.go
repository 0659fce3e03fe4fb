package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBaseURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		":9000":          "http://127.0.0.1:9000",
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		"[::]:9000":      "http://127.0.0.1:9000",
		"plinth.lan:80":  "http://plinth.lan:80",
	} {
		if got := baseURL(addr); got != want {
			t.Errorf("baseURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestEnvPrintsExportsForTheDataDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PLINTH_DATA", dir)
	t.Setenv("PLINTH_ADDR", "127.0.0.1:18080")
	t.Setenv("PLINTH_ADMIN_KEY", "")
	var out, errb bytes.Buffer
	if code := runEnv(&out, &errb); code == 0 || !strings.Contains(errb.String(), "make run") {
		t.Fatalf("no platform yet: exit %d, stderr %q; want a failure that says to start it", code, errb.String())
	}
	for name, v := range map[string]string{"admin-key": "adm-1\n", "demo-key": "pk-2\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if code := runEnv(&out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got, want := out.String(), "export PLINTH=http://127.0.0.1:18080 ADMIN=adm-1 KEY=pk-2\n"; got != want {
		t.Fatalf("printed %q, want %q", got, want)
	}
	t.Setenv("PLINTH_ADMIN_KEY", "adm-from-env")
	out.Reset()
	if runEnv(&out, &errb); !strings.Contains(out.String(), "ADMIN=adm-from-env ") {
		t.Fatalf("PLINTH_ADMIN_KEY not used: %q", out.String())
	}
}

func TestUsageLinger(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "0": -1, "0s": -1, "5ms": 5 * time.Millisecond, "1s": time.Second} {
		if got, err := usageLinger(v); err != nil || got != want {
			t.Errorf("usageLinger(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"5", "-1ms", "soon"} {
		if _, err := usageLinger(v); err == nil || !strings.Contains(err.Error(), "PLINTH_USAGE_LINGER") {
			t.Errorf("usageLinger(%q) error %v, want one naming PLINTH_USAGE_LINGER", v, err)
		}
	}
}
