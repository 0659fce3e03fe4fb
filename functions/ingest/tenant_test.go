package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3vectorsapi "github.com/aws/aws-sdk-go-v2/service/s3vectors"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/plinth-ai/plinth/shared/blob/s3blob"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors/s3vectorstest"
	"github.com/plinth-ai/plinth/shared/rag/tenantingest"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// The central platform's region and the IAM principals of the tests: the tenant stacks'
// ingestion roles (sessions of them sign, as a Lambda function's role does) and a role the
// centre maps to no tenant.
const (
	centralRegion = "eu-central-1"
	acmeRole      = "arn:aws:iam::111122223333:role/plinth-acme-ingest"
	betaRole      = "arn:aws:iam::444455556666:role/plinth-beta-ingest"
)

var ingestRoles = map[string]sigv4.Credential{
	"acme": {AccessKeyID: "ASIAACMEINGEST", SecretAccessKey: "acme-ingest-secret", SessionToken: "acme-session-token",
		PrincipalARN: "arn:aws:sts::111122223333:assumed-role/plinth-acme-ingest/plinth-acme-Ingest"},
	"beta": {AccessKeyID: "ASIABETAINGEST", SecretAccessKey: "beta-ingest-secret", SessionToken: "beta-session-token",
		PrincipalARN: "arn:aws:sts::444455556666:assumed-role/plinth-beta-ingest/plinth-beta-Ingest"},
	"stranger": {AccessKeyID: "ASIASTRANGER", SecretAccessKey: "stranger-secret", SessionToken: "stranger-token",
		PrincipalARN: "arn:aws:sts::777788889999:assumed-role/stranger/s-1"},
}

// central is a local Plinth platform standing in for the central one: it verifies SigV4
// and maps principals to tenants as the central IAM API does. Unavailable makes the next
// embeddings calls answer 503 in the platform's error shape (the centre's upstream down),
// before they reach the platform.
type central struct {
	URL         string
	admin       func(method, path, body string) (int, string)
	unavailable atomic.Int32
	embedCalls  atomic.Int32
}

func newCentral(t *testing.T) *central {
	t.Helper()
	var creds []sigv4.Credential
	for _, c := range ingestRoles {
		creds = append(creds, c)
	}
	quiet := slog.New(slog.DiscardHandler)
	// The centre's clock stands still half-way through a minute, so a per-minute limit
	// used up stays used up, and asks for 30 s.
	now := func() time.Time { return time.Date(2026, 11, 25, 8, 0, 30, 0, time.UTC) }
	l, err := platform.NewLocal(context.Background(), platform.Config{DataDir: t.TempDir(), AdminKey: "adm-central",
		Logger: quiet, SigV4: creds, Region: centralRegion, Clock: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	c := &central{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/embeddings" {
			c.embedCalls.Add(1)
			if c.unavailable.Add(-1) >= 0 {
				httpapi.WriteError(w, httpapi.Errorf(http.StatusServiceUnavailable, "upstream_unavailable", "the embedding model's provider is unavailable"))
				return
			}
			c.unavailable.Store(0)
		}
		l.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL + "/"
	c.admin = func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer adm-central")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Tenants acme and beta (beta allowed one request a minute), each ingestion role
	// mapped to its tenant as a platform admin does when a tenant stack is deployed.
	for _, step := range []struct{ path, body string }{
		{"/admin/tenants", `{"id":"acme","name":"Acme"}`},
		{"/admin/tenants", `{"id":"beta","name":"Beta","limits":{"requests_per_minute":1}}`},
		{"/admin/tenants/acme/iam-principals", `{"arn":"` + acmeRole + `"}`},
		{"/admin/tenants/beta/iam-principals", `{"arn":"` + betaRole + `"}`},
	} {
		if code, body := c.admin("POST", step.path, step.body); code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", step.path, code, body)
		}
	}
	return c
}

// tenantAccount is one tenant stack's account: its documents and index buckets (gofakes3)
// and, for the s3vectors backend, its vector bucket (the S3 Vectors fake).
type tenantAccount struct {
	s3      *s3.Client
	vectors *s3vectorstest.Fake
	cfg     awsplatform.Config
	env     map[string]string
}

func newTenantAccount(t *testing.T, c *central, tenant, role, backend string) *tenantAccount {
	t.Helper()
	ctx := context.Background()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	cred := ingestRoles[role]
	if role == "forged" {
		// acme's role's key with a secret that is not its own.
		cred = ingestRoles["acme"]
		cred.SecretAccessKey = "not-acme-ingest-secret"
	}
	// The function's role credentials, as Lambda's default chain hands them over.
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, cred.SessionToken)}
	s3c := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, Credentials: sdk.Credentials})
	docs, idx := "plinth-"+tenant+"-documents", "plinth-"+tenant+"-index"
	for _, b := range []string{docs, idx} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	a := &tenantAccount{s3: s3c, env: map[string]string{
		tenantingest.EnvTenant: tenant, tenantingest.EnvGatewayURL: c.URL, tenantingest.EnvGatewayAuth: "sigv4",
		tenantingest.EnvGatewayRegion: centralRegion,
	}}
	a.cfg = awsplatform.Config{DocumentsBucket: docs, IndexBucket: idx, IndexBackend: backend, AWS: &sdk, S3: s3c}
	if backend == rag.BackendS3Vectors {
		a.vectors = s3vectorstest.New("plinth-" + tenant + "-vectors")
		t.Cleanup(a.vectors.Close)
		a.cfg.VectorBucket = "plinth-" + tenant + "-vectors"
		a.cfg.S3Vectors = s3vectorsapi.New(s3vectorsapi.Options{Region: "eu-west-1", BaseEndpoint: aws.String(a.vectors.URL()), Credentials: sdk.Credentials})
	}
	return a
}

// handler builds the function as its cold start does and returns its Lambda handler.
func (a *tenantAccount) handler(t *testing.T) lambda.Handler {
	t.Helper()
	h, err := newTenantHandler(context.Background(), a.cfg, func(k string) string { return a.env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return lambda.NewHandler(h)
}

func (a *tenantAccount) put(t *testing.T, key, body string) {
	t.Helper()
	if _, err := a.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(a.cfg.DocumentsBucket), Key: aws.String(key),
		Body: strings.NewReader(body), ContentType: aws.String("text/markdown")}); err != nil {
		t.Fatal(err)
	}
}

func (a *tenantAccount) remove(t *testing.T, key string) {
	t.Helper()
	if _, err := a.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(a.cfg.DocumentsBucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
}

// index opens the tenant's knowledge base as its application layer would: a fresh reader
// of the index bucket (and the vector bucket).
func (a *tenantAccount) index(t *testing.T, tenant, kb string) *index.Index {
	t.Helper()
	bs, err := s3blob.New(a.s3, a.cfg.IndexBucket)
	if err != nil {
		t.Fatal(err)
	}
	var opts []index.Option
	if a.vectors != nil {
		opts = append(opts, index.WithVectorStore(s3vectors.New(a.cfg.S3Vectors, a.cfg.VectorBucket)))
	}
	ix, err := index.NewManager(bs, opts...).Open(context.Background(), tenant, kb)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// record reads a document's record from the index bucket (nil when there is none).
func (a *tenantAccount) record(t *testing.T, tenant, kb, name string) *tenantingest.Record {
	t.Helper()
	out, err := a.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(a.cfg.IndexBucket),
		Key: aws.String(tenantingest.RecordKey(tenant, kb, rag.DocumentID(tenant, kb, name)))})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") {
			return nil
		}
		t.Fatal(err)
	}
	defer out.Body.Close()
	var r tenantingest.Record
	if err := json.NewDecoder(out.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// event is a notification fixture from events/, for another key when key is not "".
func event(t *testing.T, file, key string) []byte {
	t.Helper()
	b := eventFile(t, file)
	if key != "" {
		b = bytes.ReplaceAll(b, []byte("tenants/acme/kb/handbook/policies/travel+policy.md"), []byte(key))
	}
	return b
}

// gatewayAs is the central gateway as a tenant's role calls it.
func gatewayAs(tenant string, c *central) *tenantingest.Gateway {
	cred := ingestRoles[tenant]
	return &tenantingest.Gateway{URL: c.URL, Tenant: tenant, Model: tenantingest.DefaultEmbeddingModel,
		HTTP: &http.Client{Transport: &sigv4.Transport{Credentials: credentials.NewStaticCredentialsProvider(
			cred.AccessKeyID, cred.SecretAccessKey, cred.SessionToken), Region: centralRegion, Service: "execute-api"}}}
}

// queryVector embeds a query through the central gateway, as the application layer would.
func queryVector(t *testing.T, c *central, text string) []float32 {
	t.Helper()
	v, err := gatewayAs("acme", c).Embed(context.Background(), []string{text}, "search_query")
	if err != nil {
		t.Fatal(err)
	}
	return v[0]
}

const (
	travelKey  = "tenants/acme/kb/handbook/policies/travel policy.md"
	travelName = "policies/travel policy.md"
	travelV1   = "# Travel policy\n\n## Flights\n\nEconomy class is required for flights under six hours. Business class is allowed for longer flights.\n\n## Hotels\n\nHotel stays are reimbursed up to 180 euros per night in capital cities.\n"
	travelV2   = "# Travel policy\n\n## Trains\n\nRail travel is required for journeys under four hours.\n"
)

func TestTenantIngestEmbeddedIndex(t *testing.T) { testTenantIngest(t, rag.BackendEmbedded) }

func TestTenantIngestS3Vectors(t *testing.T) { testTenantIngest(t, rag.BackendS3Vectors) }

// testTenantIngest drives the tenant stack's ingestion with S3 notifications over the
// tenant's buckets, embedding through a real local central platform that verifies the
// function's SigV4 signature and maps its role to the tenant.
func testTenantIngest(t *testing.T, backend string) {
	ctx := context.Background()
	defer func(d time.Duration) { gatewayBackoff = d }(gatewayBackoff)
	gatewayBackoff = 10 * time.Millisecond
	c := newCentral(t)
	a := newTenantAccount(t, c, "acme", "acme", backend)
	h := a.handler(t)
	docID := rag.DocumentID("acme", "handbook", travelName)
	vectorsOf := func() int {
		if a.vectors == nil {
			return -1
		}
		return len(a.vectors.Keys(a.cfg.VectorBucket, s3vectors.IndexName(index.Namespace{Tenant: "acme", KB: "handbook"})))
	}

	// Created: the document's chunks land in the tenant's index, embedded by the centre.
	a.put(t, travelKey, travelV1)
	out, err := h.Invoke(ctx, event(t, "s3-notification-object-created.json", ""))
	if err != nil {
		t.Fatalf("created: %v", err)
	}
	var outcomes []tenantingest.Outcome
	if err := json.Unmarshal(out, &outcomes); err != nil || len(outcomes) != 1 || outcomes[0].Action != "indexed" || outcomes[0].Chunks < 1 {
		t.Fatalf("created: %s %v", out, err)
	}
	chunks := outcomes[0].Chunks
	if got := c.embedCalls.Load(); got != 1 {
		t.Errorf("%d embeddings calls to the centre, want 1", got)
	}
	rec := a.record(t, "acme", "handbook", travelName)
	if rec == nil || rec.Status != tenantingest.StatusIndexed || rec.Chunks != chunks || rec.Model != "local-embed" ||
		rec.IndexBackend != backend || rec.Source != "s3://plinth-acme-documents/"+travelKey {
		t.Fatalf("record %+v", rec)
	}
	ix := a.index(t, "acme", "handbook")
	if st := ix.Stats(); st.LiveRows != chunks {
		t.Fatalf("index stats %+v, want %d rows", st, chunks)
	}
	if a.vectors != nil && vectorsOf() != chunks {
		t.Fatalf("%d vectors in S3 Vectors, want %d", vectorsOf(), chunks)
	}
	hits, err := ix.Search(ctx, index.Query{Text: "hotel per night", Vector: queryVector(t, c, "hotel per night"), Type: index.Semantic, TopK: 3})
	if err != nil || len(hits) == 0 || hits[0].DocID != docID || !strings.Contains(hits[0].Text, "180 euros") {
		t.Fatalf("semantic search: %+v %v", hits, err)
	}

	// Redelivered: nothing embedded again, nothing duplicated.
	calls := c.embedCalls.Load()
	if out, err := h.Invoke(ctx, event(t, "s3-notification-object-created.json", "")); err != nil || !strings.Contains(string(out), `"action":"unchanged"`) {
		t.Fatalf("redelivered: %s %v", out, err)
	}
	if got := c.embedCalls.Load(); got != calls {
		t.Errorf("a redelivered event embedded again (%d calls)", got-calls)
	}
	ix = a.index(t, "acme", "handbook")
	if st := ix.Stats(); st.LiveRows != chunks {
		t.Fatalf("after redelivery %+v, want %d rows", st, chunks)
	}

	// Overwritten: the new version replaces the old one's chunks.
	a.put(t, travelKey, travelV2)
	if _, err := h.Invoke(ctx, event(t, "s3-notification-object-created.json", "")); err != nil {
		t.Fatalf("overwritten: %v", err)
	}
	ix = a.index(t, "acme", "handbook")
	hits, err = ix.Search(ctx, index.Query{Text: "hotel euros night", TopK: 5})
	if err != nil || len(hits) != 0 {
		t.Fatalf("the old version is still found: %+v %v", hits, err)
	}
	hits, err = ix.Search(ctx, index.Query{Text: "rail journeys", TopK: 5})
	if err != nil || len(hits) == 0 || hits[0].DocID != docID {
		t.Fatalf("the new version is not found: %+v %v", hits, err)
	}
	chunks = ix.Stats().LiveRows
	if a.vectors != nil && vectorsOf() != chunks {
		t.Fatalf("%d vectors after the overwrite, want %d", vectorsOf(), chunks)
	}

	// The centre unavailable (503) for a new document: the invocation fails so Lambda
	// retries it, after the in-call attempts, and nothing of the document is written.
	const faqKey = "tenants/acme/kb/handbook/faq.md"
	a.put(t, faqKey, "# FAQ\n\nExpense reports are due within thirty days of travel.\n")
	c.unavailable.Store(100)
	before := c.embedCalls.Load()
	if _, err := h.Invoke(ctx, event(t, "s3-notification-object-created.json", "tenants/acme/kb/handbook/faq.md")); err == nil ||
		!strings.Contains(err.Error(), "503") {
		t.Fatalf("centre unavailable: %v, want the invocation to fail with the 503", err)
	}
	if got := c.embedCalls.Load() - before; got != 3 {
		t.Errorf("%d embeddings attempts, want 3", got)
	}
	c.unavailable.Store(0)
	ix = a.index(t, "acme", "handbook")
	if st := ix.Stats(); st.LiveRows != chunks {
		t.Fatalf("a failed document was half-written: %+v, want %d rows", st, chunks)
	}
	if r := a.record(t, "acme", "handbook", "faq.md"); r != nil {
		t.Fatalf("a failed embedding left a record %+v", r)
	}
	if a.vectors != nil && vectorsOf() != chunks {
		t.Fatalf("a failed document left vectors: %d, want %d", vectorsOf(), chunks)
	}
	// Lambda's retry of the same event, once the centre is back, indexes it.
	if out, err := h.Invoke(ctx, event(t, "s3-notification-object-created.json", "tenants/acme/kb/handbook/faq.md")); err != nil || !strings.Contains(string(out), `"action":"indexed"`) {
		t.Fatalf("retry: %s %v", out, err)
	}

	// Removed: the document's chunks and record go; the other document stays.
	a.remove(t, travelKey)
	if out, err := h.Invoke(ctx, event(t, "s3-notification-object-removed.json", "")); err != nil || !strings.Contains(string(out), `"action":"removed"`) {
		t.Fatalf("removed: %s %v", out, err)
	}
	ix = a.index(t, "acme", "handbook")
	hits, err = ix.Search(ctx, index.Query{Text: "rail journeys travel", TopK: 10})
	for _, hit := range hits {
		if hit.DocID == docID {
			t.Fatalf("the removed document is still found: %+v", hit)
		}
	}
	if err != nil || a.record(t, "acme", "handbook", travelName) != nil {
		t.Fatalf("after removal: %v, record %+v", err, a.record(t, "acme", "handbook", travelName))
	}
	faq := a.record(t, "acme", "handbook", "faq.md")
	if faq == nil || ix.Stats().LiveRows != faq.Chunks {
		t.Fatalf("after removal %+v rows, want the FAQ's (%+v)", ix.Stats(), faq)
	}
	if a.vectors != nil && vectorsOf() != faq.Chunks {
		t.Fatalf("%d vectors after removal, want the FAQ's %d", vectorsOf(), faq.Chunks)
	}
}

// TestTenantIngestRefusals: a principal the centre maps to another tenant, or to none,
// and the centre's rate limit all fail the invocation before anything is written; so do
// keys of another tenant and events of another bucket.
func TestTenantIngestRefusals(t *testing.T) {
	ctx := context.Background()
	c := newCentral(t)
	created := func(key string) []byte { return event(t, "s3-notification-object-created.json", key) }

	for _, tc := range []struct {
		name, role, want string
	}{
		// acme's stack signing with beta's role: the centre knows it as beta.
		{"principal of another tenant", "beta", `is tenant "beta"'s, not "acme"'s`},
		// A role the centre maps to no tenant.
		{"unmapped principal", "stranger", "GET /v1/session answered 40"},
		// A signature the centre cannot verify.
		{"forged signature", "forged", "GET /v1/session answered 40"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTenantAccount(t, c, "acme", tc.role, rag.BackendEmbedded)
			a.put(t, travelKey, travelV1)
			before := c.embedCalls.Load()
			_, err := a.handler(t).Invoke(ctx, created(""))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if c.embedCalls.Load() != before {
				t.Error("a refused principal's documents were sent for embedding")
			}
			if st := a.index(t, "acme", "handbook").Stats(); st.LiveRows != 0 {
				t.Errorf("index %+v after a refusal", st)
			}
		})
	}

	t.Run("the centre's rate limit", func(t *testing.T) {
		a := newTenantAccount(t, c, "beta", "beta", rag.BackendEmbedded)
		key := strings.Replace(travelKey, "/acme/", "/beta/", 1)
		a.put(t, key, travelV1)
		// beta may make one model request a minute: its application layer used it.
		if _, err := gatewayAs("beta", c).Embed(ctx, []string{"warm-up"}, "search_query"); err != nil {
			t.Fatal(err)
		}
		ev := bytes.ReplaceAll(created("tenants/beta/kb/handbook/policies/travel+policy.md"), []byte("plinth-acme-documents"), []byte("plinth-beta-documents"))
		_, err := a.handler(t).Invoke(ctx, ev)
		if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "asks to wait 30s") {
			t.Fatalf("error %v, want the centre's 429", err)
		}
		if st := a.index(t, "beta", "handbook").Stats(); st.LiveRows != 0 {
			t.Errorf("index %+v after a 429", st)
		}
		if r := a.record(t, "beta", "handbook", travelName); r != nil {
			t.Errorf("record %+v after a 429", r)
		}
	})

	t.Run("a document without text", func(t *testing.T) {
		a := newTenantAccount(t, c, "acme", "acme", rag.BackendEmbedded)
		a.put(t, "tenants/acme/kb/handbook/blank.md", "\n\n   \n")
		before := c.embedCalls.Load()
		_, err := a.handler(t).Invoke(ctx, created("tenants/acme/kb/handbook/blank.md"))
		if err == nil || !strings.Contains(err.Error(), "no text") {
			t.Fatalf("error %v, want the document's fault", err)
		}
		r := a.record(t, "acme", "handbook", "blank.md")
		if r == nil || r.Status != tenantingest.StatusFailed || !strings.Contains(r.Reason, "no text") || c.embedCalls.Load() != before {
			t.Fatalf("record %+v, want it failed with the reason and nothing embedded", r)
		}
	})

	t.Run("documents of another tenant or bucket", func(t *testing.T) {
		a := newTenantAccount(t, c, "acme", "acme", rag.BackendEmbedded)
		h := a.handler(t)
		if _, err := h.Invoke(ctx, created("tenants/beta/kb/handbook/x.md")); err == nil || !strings.Contains(err.Error(), `belongs to tenant "beta"`) {
			t.Errorf("another tenant's key: %v", err)
		}
		other := bytes.ReplaceAll(created(""), []byte(`"name": "plinth-acme-documents"`), []byte(`"name": "someone-elses-bucket"`))
		if _, err := h.Invoke(ctx, other); err == nil || !strings.Contains(err.Error(), "not the tenant's documents bucket") {
			t.Errorf("another bucket: %v", err)
		}
	})
}

// TestTenantIngestConfig: the function refuses to start without what it needs.
func TestTenantIngestConfig(t *testing.T) {
	base := map[string]string{tenantingest.EnvTenant: "acme", tenantingest.EnvGatewayURL: "https://abcdefghij.execute-api.eu-central-1.amazonaws.com/v1/"}
	sdk := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	cfg := awsplatform.Config{DocumentsBucket: "d", IndexBucket: "i", AWS: &sdk}
	for _, tc := range []struct {
		name   string
		change func(env map[string]string, cfg *awsplatform.Config)
		want   string
	}{
		{"no tenant", func(env map[string]string, _ *awsplatform.Config) { delete(env, tenantingest.EnvTenant) }, "PLINTH_TENANT"},
		{"no gateway", func(env map[string]string, _ *awsplatform.Config) { delete(env, tenantingest.EnvGatewayURL) }, "PLINTH_GATEWAY_URL"},
		{"an API key instead of IAM", func(env map[string]string, _ *awsplatform.Config) { env[tenantingest.EnvGatewayAuth] = "apikey" }, "sigv4 only"},
		{"no index bucket", func(_ map[string]string, cfg *awsplatform.Config) { cfg.IndexBucket = "" }, "PLINTH_INDEX_BUCKET"},
		{"s3vectors without a vector bucket", func(_ map[string]string, cfg *awsplatform.Config) { cfg.IndexBackend = "s3vectors" }, "PLINTH_VECTOR_BUCKET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			c := cfg
			tc.change(env, &c)
			_, err := newTenantHandler(context.Background(), c, func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
			if tc.name != "an API key instead of IAM" && !errors.Is(err, platform.ErrMissingConfig) {
				t.Errorf("error %v is not ErrMissingConfig", err)
			}
		})
	}
	if got := tenantingest.RegionOf("abcdefghij.execute-api.eu-central-1.amazonaws.com"); got != "eu-central-1" {
		t.Errorf("region of the central API's host: %q", got)
	}
}
