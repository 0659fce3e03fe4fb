// Command guardrails serves the guardrail API in AWS behind API Gateway (REST, proxy
// integration): POST /v1/guardrails/apply for tenants' API keys (resolved by the Lambda
// authorizer) and the admin policy routes under /admin/guardrail-policies (IAM-authorized
// by API Gateway). Policies live in the platform table; a policy with a bedrockGuardrail
// section also calls Amazon Bedrock's ApplyGuardrail.
//
// Environment: PLINTH_TABLE (the platform table).
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/guardrail/bedrockguard"
	"github.com/plinth-ai/plinth/shared/guardrail/guardrailhttp"
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
	engine, err := guardrail.New(guardrail.WithDelegate(bedrockguard.New(bedrockruntime.NewFromConfig(cfg))))
	if err != nil {
		log.Error("load guardrail models", "error", err)
		os.Exit(1)
	}
	tenants := tenant.NewService(st, tenant.WithLogger(log))
	svc := guardrail.NewService(engine, guardrail.NewRepository(st), guardrail.WithTenantPolicy(
		guardrail.TenantPolicyFromRef(func(ctx context.Context, id string) (string, error) {
			t, err := tenants.CachedTenant(ctx, id)
			if err != nil {
				return "", err
			}
			return t.GuardrailPolicy, nil
		})))
	mux := http.NewServeMux()
	guardrailhttp.Routes(mux, svc)
	lambda.Start(httpadapter.New(principal(mux)).ProxyWithContext)
}

// principal puts the caller into the request context: the tenant key the authorizer
// resolved, or, on the IAM-authorized admin routes, a platform admin.
func principal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gw, ok := core.GetAPIGatewayContextFromContext(r.Context()); ok {
			if p, ok := authorizer.PrincipalFromAuthorizerContext(gw.Authorizer); ok {
				r = r.WithContext(auth.WithPrincipal(r.Context(), p))
			} else if gw.Identity.UserArn != "" && strings.HasPrefix(r.URL.Path, "/admin/") {
				r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{KeyID: gw.Identity.UserArn, Admin: true}))
			}
		}
		next.ServeHTTP(w, r)
	})
}
