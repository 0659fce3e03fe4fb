package mcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestGrantMatrix checks that one policy decides both what is listed and what may be
// called: for every catalogued tool and every principal, with and without a grant (whole
// server, named tools, per key, none), tools/list on /mcp, GET /v1/tools and tools/call
// agree with each other and with the grants. Tools of an unapproved server and a rejected
// tool are in the matrix too: never listed, never callable.
func TestGrantMatrix(t *testing.T) {
	e := newEnv(t)
	e.upstream("alpha", "a.")
	e.upstream("beta", "b.")
	// gamma is registered but never approved; one alpha tool is rejected.
	gammaF, gammaURL := e.upstreamUnapproved("gamma", "g.")
	_ = gammaF
	_ = gammaURL
	e.do("POST", "/admin/tool-servers/alpha/review", adminKey, map[string]any{"decision": "reject", "reviewer": "bob", "tools": []string{"test_audio_content"}}, http.StatusOK, nil)

	keys := map[string]string{}
	for _, id := range []string{"t-whole", "t-some", "t-key", "t-none"} {
		keys[id] = e.tenant(id)
	}
	var extra struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	e.do("POST", "/admin/tenants/t-key/keys", adminKey, map[string]any{}, http.StatusCreated, &extra)
	keys["t-key/2"] = extra.Key

	var all struct {
		Data []struct {
			ID     string `json:"id"`
			Prefix string `json:"prefix"`
			Tools  []struct {
				Name string `json:"name"`
			} `json:"tools"`
		} `json:"data"`
	}
	e.do("GET", "/admin/tool-servers", adminKey, nil, http.StatusOK, &all)
	var universe []string
	for _, s := range all.Data {
		for _, tl := range s.Tools {
			universe = append(universe, s.Prefix+tl.Name)
		}
	}
	sort.Strings(universe)

	some := []string{"test_simple_text", "test_error_handling", "test_image_content", "test_audio_content"}
	e.grant("t-whole", map[string]any{"server": "alpha"})
	e.grant("t-whole", map[string]any{"server": "gamma"})
	e.grant("t-some", map[string]any{"server": "alpha", "tools": some})
	e.grant("t-some", map[string]any{"server": "beta", "tools": some[:1]})
	e.grant("t-key", map[string]any{"server": "beta"})
	e.grant("t-key", map[string]any{"server": "alpha", "tools": some[:2], "key_id": extra.ID})

	expect := map[string]map[string]bool{}
	set := func(who, server string, tools []string) {
		if expect[who] == nil {
			expect[who] = map[string]bool{}
		}
		for _, s := range all.Data {
			if s.ID != server {
				continue
			}
			for _, tl := range s.Tools {
				if (len(tools) == 0 || contains(tools, tl.Name)) && !(server == "alpha" && tl.Name == "test_audio_content") {
					expect[who][s.Prefix+tl.Name] = true
				}
			}
		}
	}
	set("t-whole", "alpha", nil)
	set("t-some", "alpha", some)
	set("t-some", "beta", some[:1])
	set("t-key", "beta", nil)
	set("t-key/2", "beta", nil)
	set("t-key/2", "alpha", some[:2])
	expect["t-none"] = map[string]bool{}

	principals := []string{"t-whole", "t-some", "t-key", "t-key/2", "t-none"}
	var mu sync.Mutex
	mismatches, cells, granted := 0, 0, 0
	var wg sync.WaitGroup
	for i, who := range principals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			version := []string{"2025-11-25", "2026-07-28"}[i%2]
			listed, admitted, rest := e.probe(t, keys[who], version, universe)
			mu.Lock()
			defer mu.Unlock()
			for _, name := range universe {
				cells++
				want := expect[who][name]
				if want {
					granted++
				}
				if listed[name] != want || admitted[name] != want || rest[name] != want {
					mismatches++
					t.Errorf("%s (%s) %s: granted %v, tools/list %v, tools/call admitted %v, GET /v1/tools %v", who, version, name, want, listed[name], admitted[name], rest[name])
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("grant matrix: %d tools × %d principals = %d cells (%d granted, %d not), %d mismatches", len(universe), len(principals), cells, granted, cells-granted, mismatches)
	if cells != len(universe)*len(principals) || granted == 0 || granted == cells {
		t.Fatalf("the matrix does not cover both granted and ungranted cells: %d of %d granted", granted, cells)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// upstreamUnapproved registers a fixture server and leaves it pending review.
func (e *env) upstreamUnapproved(id, prefix string) (any, string) {
	e.t.Helper()
	f, url := e.fixtureServer()
	e.do("POST", "/admin/tool-servers", adminKey, map[string]any{"id": id, "kind": "mcp", "url": url, "prefix": prefix}, http.StatusCreated, nil)
	return f, url
}

// probe lists and calls every tool of the universe as one principal.
func (e *env) probe(t *testing.T, key, version string, universe []string) (listed, admitted, rest map[string]bool) {
	ctx := context.Background()
	cs, err := e.connect(ctx, key, version)
	if err != nil {
		t.Errorf("connect: %v", err)
		return
	}
	defer cs.Close()
	listed, admitted, rest = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for tl, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Errorf("tools/list: %v", err)
			return
		}
		listed[tl.Name] = true
	}
	var v1 struct {
		Data []struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	e.do("GET", "/v1/tools", key, nil, http.StatusOK, &v1)
	for _, d := range v1.Data {
		rest[d.Name] = true
	}
	for _, name := range universe {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: map[string]any{}})
		var re *jsonrpc.Error
		unknown := errors.As(err, &re) && re.Code == jsonrpc.CodeInvalidParams && strings.Contains(re.Message, fmt.Sprintf("unknown tool %q", name))
		admitted[name] = !unknown
	}
	return listed, admitted, rest
}
