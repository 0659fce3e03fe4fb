package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	miniserver "github.com/truora/minidyn/server"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/shared/tenant/authorizer"
	"github.com/plinth-ai/plinth/statemachines"
	"github.com/plinth-ai/plinth/test/dynalite"
)

func repoFile(t *testing.T, parts ...string) []byte {
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
	b, err := os.ReadFile(filepath.Join(append([]string{dir}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadEvent(t *testing.T, name string) events.APIGatewayProxyRequest {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(repoFile(t, "events", name), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// runIngestion runs the ingestion state machine definition on the embedded executor with
// every task bound to the ingest function's Lambda handler, the error a handler reports
// becoming the state error by its errorType, as Step Functions does with Lambda.
func runIngestion(t *testing.T, a *platform.Platform, event []byte) flow.Execution {
	t.Helper()
	tasks, err := platform.IngestTasks(a)
	if err != nil {
		t.Fatal(err)
	}
	def, err := statemachines.Definition(statemachines.Ingestion)
	if err != nil {
		t.Fatal(err)
	}
	exec := flow.NewExecutor()
	defer exec.Close(context.Background())
	subs := map[string]string{}
	for _, ph := range statemachines.Placeholders(def) {
		h, err := platform.TaskHandler(tasks, ph, platform.Flusher(a))
		if err != nil {
			t.Fatal(err)
		}
		arn := "arn:aws:lambda:eu-west-1:123456789012:function:plinth-" + ph
		exec.Bind(arn, flow.TaskFunc(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			out, err := h(ctx, in)
			var ie messages.InvokeResponse_Error
			if errors.As(err, &ie) {
				return nil, &flow.TaskError{Type: ie.Type, Cause: ie.Message}
			}
			return out, err
		}))
		subs[ph] = arn
	}
	m, err := flow.Load(def, subs)
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Register("ingestion", m); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ex, err := exec.Start(ctx, "ingestion", "", event)
	if err != nil {
		t.Fatal(err)
	}
	done, err := exec.Wait(ctx, ex.ID)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// TestUploadIngestRetrieve uploads a document through the retrieval function, ingests it
// with the ingestion tasks as the ingest function runs them (S3 event in, state machine
// definition unchanged) on DynamoDB and S3 emulators, then retrieves from it.
func TestUploadIngestRetrieve(t *testing.T) {
	ctx := context.Background()
	db := httptest.NewServer(miniserver.NewServer())
	defer db.Close()
	ddb := dynalite.Client(db.URL)
	if err := dynamostore.CreateTable(ctx, ddb, "plinth"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer s3srv.Close()
	s3c := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	for _, b := range []string{"docs", "index"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	cfg := awsplatform.Config{Table: "plinth", DocumentsBucket: "docs", IndexBucket: "index", AWS: &sdk, DynamoDB: ddb, S3: s3c,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

	// Platform state an admin would have created: models, tenant, key, knowledge base.
	a := awsPlatform(t, cfg)
	if err := a.Registry.SeedBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Tenants.CreateTenant(ctx, tenant.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	key, _, err := a.Tenants.CreateKey(ctx, "acme", tenant.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin := adminAPI(t, a)
	kbEvent := loadEvent(t, "apigw-models.json")
	kbEvent.HTTPMethod, kbEvent.Path, kbEvent.Body = "POST", "/admin/knowledge-bases", `{"tenant":"acme","id":"docs"}`
	kbEvent.RequestContext.Authorizer, kbEvent.RequestContext.Identity.UserArn = nil, "arn:aws:iam::123456789012:role/admin"
	if resp, err := platform.BufferedHandler(admin, nil)(ctx, kbEvent); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create knowledge base: %v %d %s", err, resp.StatusCode, resp.Body)
	}

	h, err := newHandler(ctx, cfg, cfg.Logger)
	if err != nil {
		t.Fatal(err)
	}
	call := func(t *testing.T, method, path, contentType, body string, base64Body bool) events.APIGatewayProxyResponse {
		t.Helper()
		ev := loadEvent(t, "apigw-chat-completions.json")
		ev.HTTPMethod, ev.Path, ev.Resource, ev.Body, ev.IsBase64Encoded = method, path, "/v1/knowledge-bases/{proxy+}", body, base64Body
		ev.MultiValueHeaders["Content-Type"] = []string{contentType}
		delete(ev.MultiValueHeaders, "Content-Length")
		ev.RequestContext.Authorizer = authorizer.ContextFor(auth.Principal{TenantID: "acme", KeyID: key.ID, Scopes: key.Scopes})
		resp, err := h(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// Upload: multipart form data, base64-encoded by API Gateway (binary media type).
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "refunds.md")
	_, _ = io.WriteString(fw, "# Refund policy\n\nCustomers may return any product within 30 days of delivery for a full refund. "+
		"Refunds are paid to the original payment method within five business days.\n\n# Shipping\n\nOrders ship within two days.\n")
	_ = mw.WriteField("metadata", `{"department":"support"}`)
	_ = mw.Close()
	up := call(t, "POST", "/v1/knowledge-bases/docs/documents", mw.FormDataContentType(), base64.StdEncoding.EncodeToString(form.Bytes()), true)
	if up.StatusCode != 202 {
		t.Fatalf("upload %d %s", up.StatusCode, up.Body)
	}
	var doc struct{ ID, Status string }
	_ = json.Unmarshal([]byte(up.Body), &doc)
	if doc.ID == "" || doc.Status != "pending" {
		t.Fatalf("upload answer %s", up.Body)
	}
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("docs"), Key: aws.String("tenants/acme/kb/docs/refunds.md")}); err != nil {
		t.Fatalf("the document is not in the documents bucket: %v", err)
	}

	// The bucket's "Object Created" notification, reduced as the ingestion rule sends it.
	var s3Event map[string]any
	_ = json.Unmarshal(repoFile(t, "events", "s3-object-created.json"), &s3Event)
	detail := s3Event["detail"].(map[string]any)
	detail["bucket"] = map[string]any{"name": "docs"}
	detail["object"] = map[string]any{"key": "tenants/acme/kb/docs/refunds.md", "sequencer": "00674451B44D5C8F3E"}
	input, _ := json.Marshal(s3Event)
	if ex := runIngestion(t, a, input); ex.Status != flow.StatusSucceeded {
		t.Fatalf("ingestion %s: %s %s", ex.Status, ex.Error, ex.Cause)
	}

	cases := []struct {
		name, method, path, body string
		want                     []string
	}{
		{"document indexed", "GET", "/v1/knowledge-bases/docs/documents", "", []string{`"status":"indexed"`, `"refunds.md"`}},
		{"retrieve", "POST", "/v1/knowledge-bases/docs/retrieve", `{"query":"How long do refunds take?","top_k":2}`, []string{`"results"`, "original payment method"}},
		{"unknown knowledge base", "POST", "/v1/knowledge-bases/nope/retrieve", `{"query":"x"}`, []string{`"not_found"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := call(t, tc.method, tc.path, "application/json", tc.body, false)
			for _, w := range tc.want {
				if !strings.Contains(resp.Body, w) {
					t.Fatalf("%d %s lacks %s", resp.StatusCode, resp.Body, w)
				}
			}
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
