// Command authorizer is the API Gateway Lambda REQUEST authorizer: it resolves the
// bearer API key to its tenant and returns an IAM policy with the tenant context.
//
// Environment: PLINTH_TABLE (the platform table), PLINTH_KEY_CACHE_TTL (in-process cache
// of key lookups, default 30s, at most 60s). API Gateway's result cache TTL adds to it, so
// keep their sum at or below 60 s for the revocation promise. PLINTH_MCP_OAUTH_ISSUER,
// PLINTH_MCP_OAUTH_JWKS_URL and PLINTH_MCP_RESOURCE (with PLINTH_MCP_OAUTH_TENANT_CLAIM)
// admit OAuth access tokens issued for /mcp on that route.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/plinth-ai/plinth/shared/auth/accesstoken"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	table := os.Getenv("PLINTH_TABLE")
	if table == "" {
		log.Error("PLINTH_TABLE is not set")
		os.Exit(1)
	}
	ttl := 30 * time.Second
	if v := os.Getenv("PLINTH_KEY_CACHE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			log.Error("PLINTH_KEY_CACHE_TTL is not a duration", "value", v, "error", err)
			os.Exit(1)
		}
		ttl = d
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	st, err := dynamostore.New(dynamodb.NewFromConfig(cfg), table)
	if err != nil {
		log.Error("open table", "table", table, "error", err)
		os.Exit(1)
	}
	svc := tenant.NewService(st, tenant.WithCacheTTL(ttl), tenant.WithLogger(log))
	var opts []authorizer.Option
	oauth, err := accesstoken.ConfigFromEnv(os.Getenv, "")
	if err != nil {
		log.Error("MCP OAuth settings", "error", err)
		os.Exit(1)
	}
	if oauth != nil {
		v, err := accesstoken.New(*oauth)
		if err != nil {
			log.Error("MCP OAuth settings", "error", err)
			os.Exit(1)
		}
		opts = append(opts, authorizer.WithAccessTokens(v, svc.CachedTenant))
	}
	lambda.Start(authorizer.New(svc, log, opts...).Handle)
}
