package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/test/dynalite"
)

func eventFile(t *testing.T, name string) []byte {
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
	return b
}

func testConfig(t *testing.T) awsplatform.Config {
	t.Helper()
	ctx := context.Background()
	db := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(db.Close)
	ddb := dynalite.Client(db.URL)
	if err := dynamostore.CreateTable(ctx, ddb, "plinth"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(s3srv.Close)
	s3c := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	for _, b := range []string{"docs", "index"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	return awsplatform.Config{Table: "plinth", DocumentsBucket: "docs", IndexBucket: "index", AWS: &sdk, DynamoDB: ddb, S3: s3c}
}

func TestTaskDispatch(t *testing.T) {
	cfg := testConfig(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := newHandler(context.Background(), cfg, "ScoreItemFunctionArn", quiet); !errors.Is(err, platform.ErrUnknownTask) {
		t.Fatalf("an evaluation task in the ingest binary: %v", err)
	}
	if _, err := newHandler(context.Background(), awsplatform.Config{}, "PrepareFunctionArn", quiet); !errors.Is(err, platform.ErrMissingConfig) {
		t.Fatalf("no table: %v", err)
	}

	// The tenant acme and its knowledge base docs of the sample events, created as an
	// admin would.
	admin := platform.BufferedHandler(adminAPI(t, awsPlatform(t, cfg)), nil)
	for _, c := range []struct{ path, body string }{
		{"/admin/tenants", `{"id":"acme"}`},
		{"/admin/knowledge-bases", `{"tenant":"acme","id":"docs"}`},
	} {
		req := events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: c.path, Body: c.body,
			RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r-1", Identity: events.APIGatewayRequestIdentity{UserArn: "arn:aws:iam::123456789012:role/admin"}}}
		if resp, err := admin(context.Background(), req); err != nil || resp.StatusCode != 201 {
			t.Fatalf("POST %s: %v %d %s", c.path, err, resp.StatusCode, resp.Body)
		}
	}
	otherKB := strings.Replace(string(eventFile(t, "s3-object-created.json")), "tenants/acme/kb/docs/", "tenants/acme/kb/nope/", 1)

	cases := []struct {
		name, task, event string
		errType           string
		check             func(t *testing.T, out map[string]any)
	}{
		{"deleted object", "PrepareFunctionArn", "s3-object-deleted.json", "", func(t *testing.T, out map[string]any) {
			if out["tenant"] != "acme" || out["knowledge_base"] != "docs" || out["action"] != "delete" {
				t.Errorf("job %v", out)
			}
		}},
		// The knowledge base of the object does not exist: a document error, never
		// retried, which the definition catches to record the failure.
		{"object in an unknown knowledge base", "PrepareFunctionArn", "@" + otherKB, "DocumentError", nil},
		// The sample job's work-area sections are not there: extraction cannot proceed.
		{"extract without the document", "ExtractFunctionArn", "sfn-ingestion-input.json", "DocumentError", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := newHandler(context.Background(), cfg, tc.task, quiet)
			if err != nil {
				t.Fatal(err)
			}
			payload := []byte(strings.TrimPrefix(tc.event, "@"))
			if !strings.HasPrefix(tc.event, "@") {
				payload = eventFile(t, tc.event)
			}
			out, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
			if tc.errType != "" {
				var ie messages.InvokeResponse_Error
				if !errors.As(err, &ie) || ie.Type != tc.errType || ie.Message == "" {
					t.Fatalf("error %#v (output %s), want errorType %s", err, out, tc.errType)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			tc.check(t, m)
		})
	}
}

// awsPlatform builds the platform on cfg's AWS backends, as a function's cold start does.
func awsPlatform(t *testing.T, cfg awsplatform.Config) *platform.Platform {
	t.Helper()
	b, err := awsplatform.NewBackends(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.New(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// adminAPI is the admin function's handler on p.
func adminAPI(t *testing.T, p *platform.Platform) http.Handler {
	t.Helper()
	if err := p.Registry.SeedBuiltins(context.Background()); err != nil {
		t.Fatal(err)
	}
	h, err := platform.Handler(p, platform.AdminEdge(p), platform.AdminAPIs()...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
