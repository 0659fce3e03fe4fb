package parity

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors"
)

// TestSiloTenantOnAWS: on the AWS handlers, a silo tenant's documents, ingestion
// intermediates, index and records land in its own table and buckets (PLINTH_SILO_TENANTS)
// and none in the pool's, a pool tenant's stay in the pool, and neither reads the other's.
func TestSiloTenantOnAWS(t *testing.T) {
	rt := newAWS(t, newEnv(t))
	admin := adminCaller(t, rt)
	keys := map[string]string{}
	for id, tier := range map[string]string{siloTenant: "silo", "acme": "pool"} {
		admin("POST", "/admin/tenants", map[string]any{"id": id, "name": id, "isolation_tier": tier,
			"allowed_models": []string{"local-chat", "local-embed"}}, http.StatusCreated)
		var k struct {
			Key string `json:"key"`
		}
		admin("POST", "/admin/tenants/"+id+"/keys", map[string]any{}, http.StatusCreated).decode(t, &k)
		keys[id] = k.Key
		admin("POST", "/admin/knowledge-bases", map[string]any{"tenant": id, "id": "docs"}, http.StatusCreated)
	}
	upload := func(id, text string) string {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", id+"-handbook.md")
		_, _ = fw.Write([]byte(text))
		_ = mw.Close()
		r := rt.do(t, call{Method: "POST", Path: "/v1/knowledge-bases/docs/documents", Key: keys[id], Body: buf.Bytes(), ContentType: mw.FormDataContentType()})
		var doc struct {
			ID string `json:"id"`
		}
		r.decode(t, &doc)
		if r.Status != http.StatusAccepted || doc.ID == "" {
			t.Fatalf("%s's upload: %v", id, r)
		}
		eventually(t, id+"'s document indexed", func() (bool, string) {
			var d struct{ Status string }
			rt.do(t, call{Method: "GET", Path: "/v1/knowledge-bases/docs/documents/" + doc.ID, Key: keys[id]}).decode(t, &d)
			return d.Status == "indexed", d.Status
		})
		return doc.ID
	}
	globexDoc := upload(siloTenant, "# Travel\n\nGlobex staff fly business class on flights over six hours.\n")
	acmeDoc := upload("acme", "# Leave\n\nAcme parental leave lasts twenty weeks.\n")

	retrieve := func(id, query string) reply {
		return rt.do(t, call{Method: "POST", Path: "/v1/knowledge-bases/docs/retrieve", Key: keys[id],
			Body: jsonBody(map[string]any{"query": query, "top_k": 5}), ContentType: "application/json"})
	}
	if r := retrieve(siloTenant, "business class flights"); r.Status != 200 || !r.contains("six hours") || r.contains("twenty weeks") {
		t.Fatalf("the silo tenant's retrieval: %v", r)
	}
	if r := retrieve("acme", "business class flights"); r.Status != 200 || r.contains("six hours") {
		t.Fatalf("the pool tenant retrieved the silo tenant's document: %v", r)
	}
	// Neither tenant reads the other's document, by its ID, in a knowledge base of the
	// same name.
	for _, c := range []struct{ who, doc string }{{"acme", globexDoc}, {siloTenant, acmeDoc}} {
		r := rt.do(t, call{Method: "GET", Path: "/v1/knowledge-bases/docs/documents/" + c.doc, Key: keys[c.who]})
		if r.Status != http.StatusNotFound || r.contains("six hours", "twenty weeks") {
			t.Fatalf("%s reading %s: %v, want 404", c.who, c.doc, r)
		}
	}

	ctx := context.Background()
	objects := func(bucket string) []string {
		t.Helper()
		out, err := rt.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return keys
	}
	pool := append(append(objects(documentsBucket), objects(indexBucket)...), objects(evalBucket)...)
	for _, k := range pool {
		if strings.Contains(k, siloTenant) {
			t.Errorf("the pool's buckets hold the silo tenant's object %s", k)
		}
	}
	siloDocs := objects(siloDocuments)
	if !containsPrefix(siloDocs, "tenants/"+siloTenant+"/") {
		t.Errorf("the silo documents bucket has no tenants/%s/ object: %v", siloTenant, siloDocs)
	}
	if !containsPrefix(objects(siloIndex), "") {
		t.Errorf("the silo index bucket is empty")
	}
	if !containsPrefix(pool, "tenants/acme/") {
		t.Errorf("the pool tenant's document is not in the pool's buckets: %v", pool)
	}
	for _, k := range append(append(siloDocs, objects(siloIndex)...), objects(siloEval)...) {
		if strings.Contains(k, "acme") {
			t.Errorf("the silo tenant's buckets hold the pool tenant's object %s", k)
		}
	}

	// Records: the silo tenant's knowledge base and documents are in its table; the pool
	// table has the tenant's directory entry and keys (the platform's) and nothing of its
	// data.
	poolPKs, siloPKs := partitions(t, rt.ddb, table), partitions(t, rt.ddb, siloTable)
	for _, pk := range poolPKs {
		for _, p := range []string{"RAGKB#", "RAGDOC#", "USAGE#", "QUOTA#"} {
			if strings.HasPrefix(pk, p) && strings.Contains(pk, siloTenant) {
				t.Errorf("the pool table holds the silo tenant's partition %s", pk)
			}
		}
	}
	if !containsPrefix(siloPKs, "RAGDOC#"+siloTenant) || !containsPrefix(siloPKs, "RAGKB#"+siloTenant) {
		t.Errorf("the silo table lacks the tenant's knowledge base and documents: %v", siloPKs)
	}
	if !containsPrefix(poolPKs, "RAGDOC#acme") {
		t.Errorf("the pool tenant's documents are not in the pool table: %v", poolPKs)
	}
	for _, pk := range siloPKs {
		if strings.Contains(pk, "acme") || strings.HasPrefix(pk, "APIKEY#") || strings.HasPrefix(pk, "TENANT") {
			t.Errorf("the silo table holds %s, which is not the silo tenant's data", pk)
		}
	}
}

// partitions lists the distinct partition keys of a table.
func partitions(t *testing.T, db *dynamodb.Client, name string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			if s, ok := item["pk"].(*types.AttributeValueMemberS); ok && !seen[s.Value] {
				seen[s.Value] = true
				out = append(out, s.Value)
			}
		}
	}
	return out
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestSiloVectorsOnAWS: knowledge bases on the s3vectors backend keep a silo tenant's
// vectors in its own S3 Vectors bucket (PLINTH_SILO_TENANTS vector_bucket) and a pool
// tenant's in the pool's, each knowledge base its own vector index; retrieval reads each
// tenant's from its bucket, and deleting the silo tenant's knowledge base drops its index
// from its bucket only.
func TestSiloVectorsOnAWS(t *testing.T) {
	rt := newAWS(t, newEnv(t))
	admin := adminCaller(t, rt)
	keys := map[string]string{}
	for id, tier := range map[string]string{siloTenant: "silo", "acme": "pool"} {
		admin("POST", "/admin/tenants", map[string]any{"id": id, "name": id, "isolation_tier": tier,
			"allowed_models": []string{"local-chat", "local-embed"}}, http.StatusCreated)
		var k struct {
			Key string `json:"key"`
		}
		admin("POST", "/admin/tenants/"+id+"/keys", map[string]any{}, http.StatusCreated).decode(t, &k)
		keys[id] = k.Key
		admin("POST", "/admin/knowledge-bases", map[string]any{"tenant": id, "id": "vec", "index_backend": "s3vectors"}, http.StatusCreated)
	}
	upload := func(id, name, text string) {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", name)
		_, _ = fw.Write([]byte(text))
		_ = mw.Close()
		r := rt.do(t, call{Method: "POST", Path: "/v1/knowledge-bases/vec/documents", Key: keys[id], Body: buf.Bytes(), ContentType: mw.FormDataContentType()})
		var doc struct {
			ID string `json:"id"`
		}
		r.decode(t, &doc)
		if r.Status != http.StatusAccepted || doc.ID == "" {
			t.Fatalf("%s's upload: %v", id, r)
		}
		eventually(t, id+"'s document indexed", func() (bool, string) {
			var d struct{ Status string }
			rt.do(t, call{Method: "GET", Path: "/v1/knowledge-bases/vec/documents/" + doc.ID, Key: keys[id]}).decode(t, &d)
			return d.Status == "indexed", d.Status
		})
	}
	upload(siloTenant, "travel.md", "# Travel\n\nGlobex staff fly business class on flights over six hours.\n")
	upload(siloTenant, "expenses.md", "# Expenses\n\nGlobex reimburses hotel stays within ten working days.\n")
	upload("acme", "leave.md", "# Leave\n\nAcme parental leave lasts twenty weeks.\n")

	siloIndex := s3vectors.IndexName(index.Namespace{Tenant: siloTenant, KB: "vec"})
	acmeIndex := s3vectors.IndexName(index.Namespace{Tenant: "acme", KB: "vec"})
	if got := rt.vectors.Indexes(siloVectors); !slices.Equal(got, []string{siloIndex}) {
		t.Fatalf("the silo tenant's vector bucket has indexes %v, want [%s]", got, siloIndex)
	}
	if got := rt.vectors.Indexes(vectorBucket); !slices.Equal(got, []string{acmeIndex}) {
		t.Fatalf("the pool's vector bucket has indexes %v, want only the pool tenant's [%s]", got, acmeIndex)
	}
	siloKeys, poolKeys := rt.vectors.Keys(siloVectors, siloIndex), rt.vectors.Keys(vectorBucket, acmeIndex)
	if len(siloKeys) < 2 || len(poolKeys) < 1 {
		t.Fatalf("vectors stored: silo %v, pool %v; want at least one per document", siloKeys, poolKeys)
	}
	for _, k := range poolKeys {
		if slices.Contains(siloKeys, k) {
			t.Fatalf("vector %s is in both buckets", k)
		}
	}

	retrieve := func(id, query string) reply {
		return rt.do(t, call{Method: "POST", Path: "/v1/knowledge-bases/vec/retrieve", Key: keys[id],
			Body: jsonBody(map[string]any{"query": query, "top_k": 5, "search_type": "semantic"}), ContentType: "application/json"})
	}
	if r := retrieve(siloTenant, "business class flights"); r.Status != 200 || !r.contains("six hours") || r.contains("twenty weeks") {
		t.Fatalf("the silo tenant's semantic retrieval: %v", r)
	}
	if r := retrieve("acme", "parental leave"); r.Status != 200 || !r.contains("twenty weeks") || r.contains("six hours", "ten working days") {
		t.Fatalf("the pool tenant's semantic retrieval: %v", r)
	}

	// Deleting the silo tenant's knowledge base drops its index from its own bucket and
	// leaves the pool's as it was.
	admin("DELETE", "/admin/knowledge-bases/vec?tenant="+siloTenant, nil, http.StatusOK)
	if got := rt.vectors.Indexes(siloVectors); len(got) != 0 {
		t.Fatalf("the silo tenant's vector bucket still has %v after its knowledge base was deleted", got)
	}
	if got := rt.vectors.Keys(vectorBucket, acmeIndex); !slices.Equal(got, poolKeys) {
		t.Fatalf("the pool's vectors changed when the silo tenant's knowledge base was deleted: %v, were %v", got, poolKeys)
	}
}

// TestSiloFineTuningFilesOnAWS: on the AWS handlers a silo tenant uploads fine-tuning
// datasets (POST /v1/files, purpose fine-tune) into its own customisation bucket,
// encrypted with its own key, and a pool tenant's go to the pool's bucket under the
// pool's key; each lists and reads only its own. A Bedrock job of the silo tenant, whose
// data Bedrock's jobs are not given, is refused in the API's error shape before anything
// is written.
func TestSiloFineTuningFilesOnAWS(t *testing.T) {
	rt := newAWS(t, newEnv(t))
	admin := adminCaller(t, rt)
	admin("POST", "/admin/models", map[string]any{"id": "nova", "kind": "chat",
		"deployments": []any{map[string]any{"provider": "bedrock", "model": "amazon.nova-lite-v1:0:300k", "region": "eu-west-1"}},
		"prices":      map[string]any{"input_per_million": 0.06, "output_per_million": 0.24}}, http.StatusCreated)
	admin("POST", "/admin/models/nova/review", map[string]any{"decision": "approve", "reviewer": "parity"}, http.StatusOK)
	keys := map[string]string{}
	for id, tier := range map[string]string{siloTenant: "silo", "acme": "pool"} {
		admin("POST", "/admin/tenants", map[string]any{"id": id, "name": id, "isolation_tier": tier}, http.StatusCreated)
		var k struct {
			Key string `json:"key"`
		}
		admin("POST", "/admin/tenants/"+id+"/keys", map[string]any{}, http.StatusCreated).decode(t, &k)
		keys[id] = k.Key
	}
	var dataset strings.Builder
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&dataset, `{"messages":[{"role":"user","content":"Ticket %d: where is my invoice?"},{"role":"assistant","content":"Under Billing, case %d."}]}`+"\n", i, i)
	}
	upload := func(id, name string) string {
		t.Helper()
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("purpose", "fine-tune")
		fw, _ := mw.CreateFormFile("file", name)
		_, _ = fw.Write([]byte(dataset.String()))
		_ = mw.Close()
		r := rt.do(t, call{Method: "POST", Path: "/v1/files", Key: keys[id], Body: buf.Bytes(), ContentType: mw.FormDataContentType()})
		var f struct {
			ID      string `json:"id"`
			Bytes   int    `json:"bytes"`
			Purpose string `json:"purpose"`
		}
		r.decode(t, &f)
		if r.Status != http.StatusOK || f.ID == "" || f.Bytes != dataset.Len() || f.Purpose != "fine-tune" {
			t.Fatalf("%s's upload: %v", id, r)
		}
		return f.ID
	}
	siloFile, poolFile := upload(siloTenant, "globex.jsonl"), upload("acme", "acme.jsonl")

	ctx := context.Background()
	objects := func(bucket string) []string {
		t.Helper()
		out, err := rt.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return keys
	}
	siloObjects, poolObjects := objects(siloCustomization), objects(customizationBucket)
	if len(siloObjects) == 0 {
		t.Fatal("the silo tenant's customisation bucket is empty after its upload")
	}
	for _, k := range siloObjects {
		if !strings.HasPrefix(k, "tenants/"+siloTenant+"/customization/") {
			t.Errorf("the silo tenant's customisation bucket holds %s", k)
		}
		if sse, _ := rt.writes.sseKeys.Load(siloCustomization + "/" + k); sse != siloCustomizationKey {
			t.Errorf("%s was written with key %v, want the silo tenant's %s", k, sse, siloCustomizationKey)
		}
	}
	if !containsPrefix(poolObjects, "tenants/acme/customization/") {
		t.Errorf("the pool tenant's dataset is not in the pool's customisation bucket: %v", poolObjects)
	}
	for _, k := range poolObjects {
		if strings.Contains(k, siloTenant) {
			t.Errorf("the pool's customisation bucket holds the silo tenant's %s", k)
		}
		if sse, _ := rt.writes.sseKeys.Load(customizationBucket + "/" + k); sse != customizationKey {
			t.Errorf("%s was written with key %v, want the pool's %s", k, sse, customizationKey)
		}
	}

	// Each tenant lists and reads its own file only.
	for _, c := range []struct{ who, own, other string }{{siloTenant, siloFile, poolFile}, {"acme", poolFile, siloFile}} {
		r := rt.do(t, call{Method: "GET", Path: "/v1/files", Key: keys[c.who]})
		if r.Status != http.StatusOK || !r.contains(c.own) || r.contains(c.other) {
			t.Fatalf("%s's files: %v", c.who, r)
		}
		if r := rt.do(t, call{Method: "GET", Path: "/v1/files/" + c.own + "/content", Key: keys[c.who]}); r.Status != http.StatusOK || string(r.Body) != dataset.String() {
			t.Fatalf("%s reading its file: %d %.200s", c.who, r.Status, r.Body)
		}
		if r := rt.do(t, call{Method: "GET", Path: "/v1/files/" + c.other, Key: keys[c.who]}); r.Status != http.StatusNotFound {
			t.Fatalf("%s reading the other tenant's file: %v, want 404", c.who, r)
		}
	}

	// A Bedrock job for the silo tenant is refused clearly; nothing reaches Bedrock.
	r := rt.do(t, call{Method: "POST", Path: "/v1/fine_tuning/jobs", Key: keys[siloTenant],
		Body: jsonBody(map[string]any{"model": "nova", "training_file": siloFile}), ContentType: "application/json"})
	var e struct {
		Error struct {
			Message, Type string
			Param         *string
		}
	}
	r.decode(t, &e)
	if r.Status != http.StatusBadRequest || e.Error.Type != "invalid_request_error" || e.Error.Param == nil || *e.Error.Param != "model" ||
		!strings.Contains(e.Error.Message, "own bucket") {
		t.Fatalf("the silo tenant's Bedrock job: %v, want a 400 on model saying why", r)
	}
	if n := len(rt.bedrock.Created()); n != 0 {
		t.Fatalf("Bedrock got %d jobs", n)
	}
}
