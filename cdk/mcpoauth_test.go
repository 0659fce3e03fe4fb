package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestMCPOAuthContext(t *testing.T) {
	full := map[string]any{"mcpOAuthIssuer": "https://auth.example.com", "mcpOAuthJwksUrl": "https://auth.example.com/jwks",
		"mcpResource": "https://api.example.com/mcp"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range full {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tt := range []struct {
		name    string
		context map[string]any
		wantErr bool
	}{
		{"off by default", nil, false},
		{"all three", full, false},
		{"with a tenant claim", with(map[string]any{"mcpOAuthTenantClaim": "org"}), false},
		{"an issuer alone", map[string]any{"mcpOAuthIssuer": "https://auth.example.com"}, true},
		{"no resource", with(map[string]any{"mcpResource": ""}), true},
		{"a resource that is not https", with(map[string]any{"mcpResource": "http://api.example.com/mcp"}), true},
		{"a tenant claim alone", map[string]any{"mcpOAuthTenantClaim": "org"}, true},
		{"a private network cannot fetch the keys", with(map[string]any{"privateNetwork": true}), true},
		{"a private network with egress can", with(map[string]any{"privateNetwork": true, "privateEgress": true}), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.context
			if ctx == nil {
				ctx = map[string]any{}
			}
			cfg, err := ConfigFromContext(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && tt.context["mcpResource"] != nil && cfg.MCPOAuth.Resource != tt.context["mcpResource"] {
				t.Errorf("resource %q", cfg.MCPOAuth.Resource)
			}
		})
	}
}

// TestMCPOAuthStack: with MCP OAuth configured, the authorizer and the gateway function
// get its settings and API Gateway's 401s point to the resource's metadata; without it,
// neither.
func TestMCPOAuthStack(t *testing.T) {
	assets, err := dummyAssets()
	if err != nil {
		t.Fatal(err)
	}
	defs, _, err := definitionsDir()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.AssetDir, cfg.StateMachinesDir, cfg.Nag = assets, defs, false
	cfg.MCPOAuth = MCPOAuthConfig{Issuer: "https://auth.example.com", JWKSURL: "https://auth.example.com/jwks", Resource: "https://api.example.com/mcp"}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(assets + "/cdk.out")})
	p, err := NewPlatform(app, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tpl := assertions.Template_FromStack(p.API.Stack, nil)
	env := map[string]any{"PLINTH_MCP_OAUTH_ISSUER": "https://auth.example.com", "PLINTH_MCP_OAUTH_JWKS_URL": "https://auth.example.com/jwks",
		"PLINTH_MCP_RESOURCE": "https://api.example.com/mcp"}
	for _, fn := range []string{"^Plinth API-key authorizer", "^Plinth model gateway"} {
		has(t, fn, func() {
			tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
				"Description": assertions.Match_StringLikeRegexp(jsii.String(fn)),
				"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&env)},
			})
		})
	}
	const challenge = `'Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"'`
	has(t, "the 401 names the metadata", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::GatewayResponse"), map[string]any{
			"ResponseType": "UNAUTHORIZED",
			"RestApiId":    map[string]any{"Ref": logicalID(p.API.Stack, p.API.API.RestApiId())},
			"ResponseParameters": assertions.Match_ObjectLike(&map[string]any{
				"gatewayresponse.header.WWW-Authenticate": challenge,
			}),
		})
	})

	// The default platform has none of it.
	raw, _ := json.Marshal(platform(t).raw["api"])
	for _, s := range []string{"PLINTH_MCP_OAUTH", "WWW-Authenticate"} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the default API stack mentions %s", s)
		}
	}
}
