package main

import (
	"reflect"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

func TestConfigFromContext(t *testing.T) {
	tests := []struct {
		name    string
		context map[string]any
		check   func(Config) bool
		wantErr bool
	}{
		{"defaults", nil, func(c Config) bool { return reflect.DeepEqual(c, DefaultConfig()) }, false},
		{"tenants from the CLI", map[string]any{"tenants": `[{"id":"globex","tier":"silo"},{"id":"initech","tier":"hybrid","account":"222222222222"},{"id":"acme","tier":"pool"}]`},
			func(c Config) bool {
				return len(c.Tenants) == 3 && len(c.SiloTenants()) == 1 && c.SiloTenants()[0].ID == "globex" &&
					len(c.HybridTenants()) == 1 && c.HybridTenants()[0].Account == "222222222222"
			}, false},
		{"tenants from cdk.json", map[string]any{"tenants": []any{map[string]any{"id": "globex", "tier": "silo"}}},
			func(c Config) bool { return len(c.SiloTenants()) == 1 }, false},
		{"unknown tier", map[string]any{"tenants": `[{"id":"globex","tier":"gold"}]`}, nil, true},
		{"hybrid needs an account", map[string]any{"tenants": `[{"id":"initech","tier":"hybrid"}]`}, nil, true},
		{"bad account", map[string]any{"tenants": `[{"id":"initech","tier":"hybrid","account":"12"}]`}, nil, true},
		{"bad tenant id", map[string]any{"tenants": `[{"id":"Globex!","tier":"silo"}]`}, nil, true},
		{"tenant declared twice", map[string]any{"tenants": `[{"id":"globex","tier":"silo"},{"id":"globex","tier":"pool"}]`}, nil, true},
		{"unknown tenant field", map[string]any{"tenants": `[{"id":"globex","tier":"silo","region":"x"}]`}, nil, true},
		{"strings from the CLI", map[string]any{"assetDir": "/tmp/a", "throttleRate": "50", "usagePlan": "true", "nag": "false"},
			func(c Config) bool { return c.AssetDir == "/tmp/a" && c.ThrottleRate == 50 && c.UsagePlan && !c.Nag }, false},
		{"typed values from cdk.json", map[string]any{"wafRateLimit": 100.0, "usagePlan": true},
			func(c Config) bool { return c.WAFRateLimit == 100 && c.UsagePlan }, false},
		{"domain needs a certificate", map[string]any{"domainName": "api.example.com"}, nil, true},
		{"bad number", map[string]any{"throttleBurst": "lots"}, nil, true},
		{"private network", map[string]any{"privateNetwork": "true", "privateEgress": true},
			func(c Config) bool { return c.PrivateNetwork && c.PrivateEgress }, false},
		{"a private API has no custom domain", map[string]any{"privateNetwork": true, "domainName": "api.example.com", "certificateArn": "arn:aws:acm:eu-west-1:1:certificate/x"}, nil, true},
		{"egress needs the private network", map[string]any{"privateEgress": true}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := map[string]any{}
			for k, v := range tt.context {
				ctx[k] = v
			}
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
			cfg, err := ConfigFromContext(app)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !tt.check(cfg) {
				t.Errorf("config %+v", cfg)
			}
		})
	}
}
