package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
	"github.com/plinth-ai/plinth/test/dynalite"
)

func loadEvent(t *testing.T, name string) events.APIGatewayProxyRequest {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
	b, err := os.ReadFile(filepath.Join(dir, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestApplyGuardrail(t *testing.T) {
	ctx := context.Background()
	db := httptest.NewServer(miniserver.NewServer())
	defer db.Close()
	ddb := dynalite.Client(db.URL)
	if err := dynamostore.CreateTable(ctx, ddb, "plinth"); err != nil {
		t.Fatal(err)
	}
	st, _ := dynamostore.New(ddb, "plinth")
	ts := tenant.NewService(st)
	if _, err := ts.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	key, _, err := ts.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	retrievalOnly, _, err := ts.CreateKey(ctx, "acme", tenant.KeyOptions{Scopes: []auth.Scope{auth.ScopeRetrieval}})
	if err != nil {
		t.Fatal(err)
	}
	// Amazon Bedrock's ApplyGuardrail (REST: POST /guardrail/{id}/version/{version}/apply).
	var bedrockPath string
	bedrock := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bedrockPath = r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"usage":{"topicPolicyUnits":1,"contentPolicyUnits":1,"wordPolicyUnits":0,"sensitiveInformationPolicyUnits":0,"sensitiveInformationPolicyFreeUnits":0,"contextualGroundingPolicyUnits":0},
		  "action":"GUARDRAIL_INTERVENED","outputs":[{"text":"Sorry, I can't help with that."}],
		  "assessments":[{"topicPolicy":{"topics":[{"name":"Investments","type":"DENY","action":"BLOCKED","detected":true}]}}]}`)
	}))
	defer bedrock.Close()
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), BaseEndpoint: aws.String(bedrock.URL)}
	h, err := newHandler(ctx, awsplatform.Config{Table: "plinth", AWS: &sdk, DynamoDB: ddb}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}

	const body = `{"source":"INPUT","content":[{"text":{"text":"Mail me at jane.doe@example.com today"}}],
	  "policy":{"sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"EMAIL","action":"ANONYMIZE"}]}}}`
	const delegated = `{"source":"INPUT","content":[{"text":{"text":"Which stocks should I buy?"}}],
	  "policy":{"bedrockGuardrail":{"guardrailIdentifier":"gr-123","guardrailVersion":"1","exclusive":true}}}`
	cases := []struct {
		name   string
		body   string
		key    *tenant.Key
		status int
		check  func(t *testing.T, body string)
	}{
		{"email anonymized", body, key, 200, func(t *testing.T, body string) {
			var resp struct {
				Action  string
				Outputs []struct{ Text string }
			}
			if err := json.Unmarshal([]byte(body), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Action != "GUARDRAIL_INTERVENED" || len(resp.Outputs) != 1 || resp.Outputs[0].Text != "Mail me at {EMAIL} today" {
				t.Errorf("response %s", body)
			}
		}},
		{"delegated to a Bedrock guardrail", delegated, key, 200, func(t *testing.T, body string) {
			if !strings.Contains(body, `"GUARDRAIL_INTERVENED"`) || !strings.Contains(body, "Sorry, I can't help with that.") || bedrockPath != "/guardrail/gr-123/version/1/apply" {
				t.Errorf("response %s (Bedrock path %q)", body, bedrockPath)
			}
		}},
		{"key without the inference scope", body, retrievalOnly, 403, func(t *testing.T, body string) {
			if !strings.Contains(body, "insufficient_scope") {
				t.Errorf("response %s", body)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := loadEvent(t, "apigw-chat-completions.json")
			ev.Path, ev.Resource, ev.RequestContext.ResourcePath, ev.Body = "/v1/guardrails/apply", "/v1/guardrails/apply", "/v1/guardrails/apply", tc.body
			ev.RequestContext.Authorizer = authorizer.ContextFor(auth.Principal{TenantID: "acme", KeyID: tc.key.ID, Scopes: tc.key.Scopes})
			resp, err := h(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			tc.check(t, resp.Body)
		})
	}
}
