package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/rag/chunk"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/tokens"
)

var handbook = map[string]string{
	"leave.md":     "# Leave\n\nEmployees receive twenty-five days of paid annual leave. Unused leave expires in March.\n\n## Sick leave\n\nSick leave needs a doctor's note after three days.",
	"laptops.html": "<html><body><h1>Laptops</h1><p>Engineers get a new laptop every three years. Lost laptops must be reported to security within one day.</p></body></html>",
	"canteen.txt":  "The canteen serves vegetarian lunch daily from noon. Coffee is free on every floor.",
}

func seedHandbook(t *testing.T, e *env, tenant string) {
	t.Helper()
	e.createKB(t, KnowledgeBase{Tenant: tenant, ID: "handbook"})
	years := map[string]float64{"leave.md": 2024, "laptops.html": 2025, "canteen.txt": 2023}
	for name, body := range handbook {
		d := e.upload(t, tenant, "handbook", name, body, map[string]any{"year": years[name], "team": "people-ops"})
		if d.Status != StatusIndexed {
			t.Fatalf("%s: status %s (%s), want indexed", name, d.Status, d.Reason)
		}
	}
}

func TestIngestionFlowIndexesAndRetrieves(t *testing.T) {
	e := newEnv(t, envConfig{})
	seedHandbook(t, e, "acme")
	tests := []struct {
		query, want string
	}{
		{"how many days of annual leave do I get", "leave.md"},
		{"I lost my laptop, who do I tell", "laptops.html"},
		{"is there vegetarian lunch", "canteen.txt"},
	}
	for _, st := range []string{"", "HYBRID", "SEMANTIC", "LEXICAL"} {
		for _, tc := range tests {
			t.Run(st+"/"+tc.query, func(t *testing.T) {
				res := e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: tc.query, SearchType: st, TopK: 3})
				if len(res) == 0 || res[0].Document.Name != tc.want {
					t.Fatalf("top result %+v, want %s", res, tc.want)
				}
				r := res[0]
				if r.Citation != 1 || r.ChunkID == "" || r.Document.ID != DocumentID("acme", "handbook", tc.want) ||
					r.Source != "s3://local/tenants/acme/kb/handbook/"+tc.want || r.Document.Metadata["team"] != "people-ops" {
					t.Fatalf("result fields incomplete: %+v", r)
				}
			})
		}
	}
	docs, err := e.svc.ListDocuments(context.Background(), "acme", "handbook")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if d.Status != StatusIndexed || d.Chunks == 0 || d.ContentHash == "" || d.Size == 0 {
			t.Errorf("document %s: %+v", d.Name, d)
		}
	}
	if e.usage["acme/handbook/local-embed"] == 0 {
		t.Errorf("embedding tokens were not charged: %v", e.usage)
	}
	// Work files are cleaned once documents are indexed.
	if objs, _ := e.blob.List(context.Background(), "work/"); len(objs) != 0 {
		t.Errorf("%d work files left behind", len(objs))
	}
}

func TestRetrieveFilters(t *testing.T) {
	e := newEnv(t, envConfig{})
	seedHandbook(t, e, "acme")
	q := "leave laptop lunch coffee security doctor"
	tests := []struct {
		name   string
		filter *index.Filter
		want   int
	}{
		{"equals", &index.Filter{Equals: &index.Condition{Key: "year", Value: 2025.0}}, 1},
		{"greaterThanOrEquals", &index.Filter{GreaterThanOrEquals: &index.Condition{Key: "year", Value: 2024.0}}, 2},
		{"startsWith", &index.Filter{StartsWith: &index.Condition{Key: "team", Value: "people"}}, 3},
		{"andAll", &index.Filter{AndAll: []index.Filter{{LessThan: &index.Condition{Key: "year", Value: 2025.0}}, {NotEquals: &index.Condition{Key: "year", Value: 2023.0}}}}, 1},
		{"source", &index.Filter{Equals: &index.Condition{Key: index.KeySourceURI, Value: "s3://local/tenants/acme/kb/handbook/canteen.txt"}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: q, TopK: 10, Filter: tc.filter, SearchType: "LEXICAL"})
			docs := map[string]bool{}
			for _, r := range res {
				docs[r.Document.Name] = true
			}
			if len(docs) != tc.want {
				t.Fatalf("documents %v, want %d", docs, tc.want)
			}
		})
	}
	if _, err := e.svc.Retrieve(context.Background(), "acme", "handbook", RetrieveRequest{Query: q, Filter: &index.Filter{In: &index.Condition{Key: "year", Value: 2024.0}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("malformed filter: err %v, want ErrInvalid", err)
	}
}

func TestKnowledgeBaseHybridSettingsApply(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "handbook", Hybrid: &HybridConfig{Fusion: "rrf"}})
	for name, body := range handbook {
		e.upload(t, "acme", "handbook", name, body, nil)
	}
	res := e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: "vegetarian lunch", TopK: 3})
	// Reciprocal-rank fusion scores are sums of 1/(60+rank): at most 2/61.
	if len(res) == 0 || res[0].Document.Name != "canteen.txt" || res[0].Score > 2.0/61+1e-9 {
		t.Fatalf("results %+v", res)
	}
}

func TestRetrieveValidation(t *testing.T) {
	e := newEnv(t, envConfig{})
	seedHandbook(t, e, "acme")
	for _, req := range []RetrieveRequest{{Query: ""}, {Query: "x", TopK: 101}, {Query: "x", TopK: -2}, {Query: "x", SearchType: "FUZZY"}} {
		if _, err := e.svc.Retrieve(context.Background(), "acme", "handbook", req); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err %v, want ErrInvalid", req, err)
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t, envConfig{})
	seedHandbook(t, e, "acme")
	if _, err := e.svc.Retrieve(context.Background(), "globex", "handbook", RetrieveRequest{Query: "annual leave"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant reached acme's knowledge base: %v", err)
	}
	// A same-named knowledge base in another tenant has only its own documents.
	e.createKB(t, KnowledgeBase{Tenant: "globex", ID: "handbook"})
	e.upload(t, "globex", "handbook", "gym.txt", "The gym opens at six in the morning.", nil)
	for _, st := range []string{"HYBRID", "LEXICAL", "SEMANTIC"} {
		for _, r := range e.retrieve(t, "globex", "handbook", RetrieveRequest{Query: "annual leave laptop canteen gym", SearchType: st, TopK: 10}) {
			if r.Document.Name != "gym.txt" {
				t.Fatalf("%s: globex sees %s", st, r.Document.Name)
			}
		}
	}
	if _, err := e.svc.GetDocument(context.Background(), "globex", "handbook", DocumentID("acme", "handbook", "leave.md")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("globex can read acme's document record: %v", err)
	}
}

func TestReuploadIsIdempotentByHashAndReplaces(t *testing.T) {
	e := newEnv(t, envConfig{})
	seedHandbook(t, e, "acme")
	ctx := context.Background()
	kb, _ := e.svc.GetKnowledgeBase(ctx, "acme", "handbook")
	ix, _ := e.svc.openIndex(ctx, kb)
	before := ix.Stats().Version

	e.resetHistory()
	md := map[string]any{"year": 2023.0, "team": "people-ops"}
	d := e.upload(t, "acme", "handbook", "canteen.txt", handbook["canteen.txt"], md)
	if d.Status != StatusIndexed || e.entered("Chunk") != 0 || e.entered("Index") != 0 {
		t.Fatalf("identical re-upload was processed again (status %s, chunk %d, index %d)", d.Status, e.entered("Chunk"), e.entered("Index"))
	}
	if v := ix.Stats().Version; v != before {
		t.Fatalf("index changed on an identical upload: version %d → %d", before, v)
	}

	// Changed metadata alone re-indexes.
	e.resetHistory()
	e.upload(t, "acme", "handbook", "canteen.txt", handbook["canteen.txt"], map[string]any{"year": 2026.0})
	if e.entered("Index") != 1 {
		t.Fatalf("metadata change did not re-index")
	}
	res := e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: "vegetarian lunch", SearchType: "LEXICAL", Filter: &index.Filter{Equals: &index.Condition{Key: "year", Value: 2026.0}}})
	if len(res) != 1 {
		t.Fatalf("new metadata not searchable: %+v", res)
	}

	// New content replaces the old chunks.
	e.upload(t, "acme", "handbook", "canteen.txt", "The canteen now serves sushi on Fridays.", nil)
	if res := e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: "vegetarian lunch noon", SearchType: "LEXICAL"}); len(res) != 0 {
		t.Fatalf("old content still found: %+v", res)
	}
	if res := e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: "sushi fridays", SearchType: "LEXICAL"}); len(res) != 1 || res[0].Document.Name != "canteen.txt" {
		t.Fatalf("new content not found: %+v", res)
	}
	docs, _ := e.svc.ListDocuments(ctx, "acme", "handbook")
	if len(docs) != 3 {
		t.Fatalf("%d documents after re-uploads, want 3", len(docs))
	}
}

func TestDocumentThatCannotBeProcessedEndsFailedWithReason(t *testing.T) {
	e := newEnv(t, envConfig{})
	seedHandbook(t, e, "acme")
	tests := []struct {
		name, body, reason string
	}{
		{"broken.pdf", "%PDF-1.4 not really a pdf", "corrupt"},
		// Refused at upload when the bytes say so (see TestEmptyDocumentsAreRefusedAtUpload);
		// markup with no text in it is found out by extraction.
		{"blank.html", "<html><body><p> </p></body></html>", "no text"},
		{"bad.json", `{"a": `, "corrupt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := e.upload(t, "acme", "handbook", tc.name, tc.body, nil)
			if d.Status != StatusFailed || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("status %s reason %q, want failed with %q", d.Status, d.Reason, tc.reason)
			}
		})
	}
	var ee interface{ Error() string }
	last := e.runs[len(e.runs)-1]
	if last.err == nil || !errors.As(last.err, &ee) || !strings.Contains(last.err.Error(), "DocumentFailed") {
		t.Fatalf("execution ended %v, want DocumentFailed", last.err)
	}
	// A metadata type that contradicts the schema fails the document too (uploaded by S3).
	docs, _ := e.svc.ListDocuments(context.Background(), "acme", "handbook")
	if len(docs) != 6 {
		t.Fatalf("%d documents listed, want 6 (failed ones are kept)", len(docs))
	}
}

func TestUnsupportedUploadIsRefused(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "kb"})
	for _, name := range []string{"deck.pptx", "../escape.txt", "a.txt.metadata.json", strings.Repeat("x", 300) + ".txt", "back\\slash.txt"} {
		_, err := e.svc.UploadDocument(context.Background(), "acme", "kb", Upload{Name: name, Body: strings.NewReader("x")})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
}

// flakyEmbedder fails the first n calls with a retryable provider error.
type flakyEmbedder struct {
	Embedder
	fails atomic.Int32
}

func (f *flakyEmbedder) Embed(ctx context.Context, texts []string, inputType string) ([][]float32, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, &provider.Error{Kind: provider.KindRateLimited, Provider: "test", Message: "slow down"}
	}
	return f.Embedder.Embed(ctx, texts, inputType)
}

func TestTransientEmbeddingErrorsAreRetried(t *testing.T) {
	fl := &flakyEmbedder{Embedder: localEmbedder(64)}
	// Two in-task attempts per execution of Embed: 3 failures exhaust the first, so the
	// state machine's Retry runs the task again.
	fl.fails.Store(3)
	e := newEnv(t, envConfig{embedder: fl})
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "kb"})
	d := e.upload(t, "acme", "kb", "a.txt", "Retries keep ingestion going.", nil)
	if d.Status != StatusIndexed {
		t.Fatalf("status %s (%s), want indexed after retries", d.Status, d.Reason)
	}
	if n := e.entered("Embed"); n != 2 {
		t.Fatalf("Embed scheduled %d times, want 2 (one state-machine retry)", n)
	}
}

func TestPermanentEmbeddingErrorFailsDocument(t *testing.T) {
	bad := EmbedderFunc(func(context.Context, []string, string) ([][]float32, error) {
		return nil, &provider.Error{Kind: provider.KindBadRequest, Provider: "test", Message: "input too long"}
	})
	e := newEnv(t, envConfig{embedder: bad})
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "kb"})
	d := e.upload(t, "acme", "kb", "a.txt", "Some text.", nil)
	if d.Status != StatusFailed || !strings.Contains(d.Reason, "input too long") {
		t.Fatalf("status %s reason %q", d.Status, d.Reason)
	}
	if n := e.entered("Embed"); n != 1 {
		t.Fatalf("a permanent error was retried: Embed entered %d times", n)
	}
}

func TestDeleteRemovesFromIndex(t *testing.T) {
	e := newEnv(t, envConfig{})
	seedHandbook(t, e, "acme")
	ctx := context.Background()
	id := DocumentID("acme", "handbook", "laptops.html")
	if err := e.svc.DeleteDocument(ctx, "acme", "handbook", id); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"HYBRID", "SEMANTIC", "LEXICAL"} {
		for _, r := range e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: "lost laptop security", SearchType: st, TopK: 10}) {
			if r.Document.ID == id {
				t.Fatalf("%s search still returns the deleted document", st)
			}
		}
	}
	if _, err := e.svc.GetDocument(ctx, "acme", "handbook", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record still there: %v", err)
	}
	if _, err := e.blob.Head(ctx, ObjectKey("acme", "handbook", "laptops.html")); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("object still there: %v", err)
	}
	if err := e.svc.DeleteDocument(ctx, "acme", "handbook", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

// Documents dropped straight into the bucket (with a sidecar) are ingested from the S3
// EventBridge event, URL-encoded key included, and removed by the delete event.
func TestS3EventsDriveIngestion(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "handbook", Chunking: chunk.Config{Strategy: chunk.Recursive, MaxTokens: 40}})
	key := "tenants/acme/kb/handbook/policies/travel policy.md"
	for k, file := range map[string]string{key: "travel-policy.md", key + SidecarSuffix: "travel-policy.md.metadata.json"} {
		if _, err := e.blob.Put(ctx, k, bytes.NewReader(readTestdata(t, file)), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.run(ctx, readTestdata(t, "object-created.json")); err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.GetDocument(ctx, "acme", "handbook", DocumentID("acme", "handbook", "policies/travel policy.md"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != StatusIndexed || d.Metadata["department"] != "finance" || d.Chunks < 2 {
		t.Fatalf("document %+v", d)
	}
	res := e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: "hotel reimbursement per night", TopK: 1,
		Filter: &index.Filter{ListContains: &index.Condition{Key: "tags", Value: "expenses"}}})
	if len(res) != 1 || !strings.Contains(res[0].Text, "180 euros") {
		t.Fatalf("results %+v", res)
	}
	if err := e.blob.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(ctx, readTestdata(t, "object-deleted.json")); err != nil {
		t.Fatal(err)
	}
	if res := e.retrieve(t, "acme", "handbook", RetrieveRequest{Query: "hotel reimbursement", SearchType: "LEXICAL"}); len(res) != 0 {
		t.Fatalf("deleted object still searchable: %+v", res)
	}
	if _, err := e.svc.GetDocument(ctx, "acme", "handbook", d.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record of deleted object: %v", err)
	}
}

func TestEventsForUnknownKnowledgeBasesAreRejected(t *testing.T) {
	e := newEnv(t, envConfig{})
	// The failure carries Prepare's own reason, naming what was wrong, not a fixed sentence.
	for key, reason := range map[string]string{"tenants/acme/kb/missing/a.txt": `"missing"`, "other/prefix/a.txt": "other/prefix/a.txt"} {
		ev, _ := json.Marshal(map[string]any{"detail-type": "Object Created", "detail": map[string]any{"bucket": map[string]any{"name": "b"}, "object": map[string]any{"key": key}}})
		_, err := e.run(context.Background(), ev)
		if err == nil || !strings.Contains(err.Error(), "EventRejected") || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: %v, want EventRejected naming %s", key, err, reason)
		}
	}
}

func TestHierarchicalReturnsParents(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "kb", Chunking: chunk.Config{Strategy: chunk.Hierarchical, MaxTokens: 20, ParentMaxTokens: 60}})
	body := strings.Repeat("Filler sentence about nothing in particular here. ", 12) + "The secret ingredient is smoked paprika. " + strings.Repeat("More filler words to pad the parent out. ", 12)
	e.upload(t, "acme", "kb", "recipe.txt", body, nil)
	res := e.retrieve(t, "acme", "kb", RetrieveRequest{Query: "secret ingredient paprika", TopK: 3, SearchType: "LEXICAL"})
	if len(res) == 0 || !strings.Contains(res[0].Text, "smoked paprika") || tokens.Count(res[0].Text) <= 20 {
		t.Fatalf("want the parent passage around the matching child, got %+v", res)
	}
	for i := 1; i < len(res); i++ {
		if res[i].Text == res[0].Text {
			t.Fatalf("the same parent is returned twice")
		}
	}
}

func TestAnswerCitesSources(t *testing.T) {
	var prompt string
	chat := func(_ context.Context, tenant string, req *gateway.ChatRequest) (*gateway.ChatResult, error) {
		if tenant != "acme" || len(req.Messages) != 1 || req.Messages[0].Content.String() != "how much annual leave" {
			t.Errorf("tenant %q asked %+v: the asker's words must be the question alone", tenant, req.Messages)
		}
		prompt = req.Prompt()[1].Content.String()
		return &gateway.ChatResult{Response: &provider.ChatResponse{Model: req.Model, Choices: []provider.Choice{{Message: provider.Message{Role: "assistant",
			Content: provider.TextContent("You get twenty-five days of paid leave [1].")}}}, Usage: &provider.Usage{TotalTokens: 9}}}, nil
	}
	e := newEnv(t, envConfig{opts: []Option{WithChat(chat, "local-chat"), WithGrounding(func(answer string, sources []string, query string) (float64, float64) {
		return 0.9, 0.8
	})}})
	seedHandbook(t, e, "acme")
	resp, err := e.svc.Answer(context.Background(), "acme", "handbook", AnswerRequest{RetrieveRequest: RetrieveRequest{Query: "how much annual leave", TopK: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Citations) != 1 || resp.Citations[0].Citation != 1 || resp.Citations[0].Document.Name != "leave.md" {
		t.Fatalf("citations %+v", resp.Citations)
	}
	if !strings.Contains(prompt, "[1] (leave.md)") || !strings.Contains(prompt, "Question: how much annual leave") {
		t.Fatalf("prompt lacks numbered sources: %q", prompt)
	}
	if resp.Grounding == nil || resp.Grounding.Grounding != 0.9 || resp.Model != "local-chat" || len(resp.Sources) != 2 {
		t.Fatalf("response %+v", resp)
	}
}

// Large intermediates go to the blob store instead of the state, and are cleaned up.
func TestLargeDocumentSpillsIntermediatesToBlob(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "kb"})
	var b strings.Builder
	for i := 0; b.Len() < 150<<10; i++ {
		b.WriteString("Paragraph about topic number " + strings.Repeat("x", i%7) + " and the quarterly revenue figures.\n\n")
	}
	b.WriteString("The needle sentence mentions zanzibar.")
	d := e.upload(t, "acme", "kb", "big.txt", b.String(), nil)
	if d.Status != StatusIndexed || d.Chunks < 50 {
		t.Fatalf("status %s chunks %d", d.Status, d.Chunks)
	}
	spilled := false
	maxState := 0
	for _, h := range e.history {
		if strings.Contains(string(h.Output), `"chunks_key"`) {
			spilled = true
		}
		maxState = max(maxState, len(h.Output), len(h.Input))
	}
	if !spilled || maxState > 256<<10 {
		t.Fatalf("spilled=%v, largest state %d bytes", spilled, maxState)
	}
	if res := e.retrieve(t, "acme", "kb", RetrieveRequest{Query: "zanzibar", SearchType: "LEXICAL"}); len(res) != 1 {
		t.Fatalf("results %+v", res)
	}
	if objs, _ := e.blob.List(context.Background(), "work/"); len(objs) != 0 {
		t.Fatalf("%d work files left", len(objs))
	}
}

// When the embedding model fails, HYBRID still answers lexically and says so; SEMANTIC
// reports the model's error.
func TestHybridFallsBackToLexicalWhenEmbeddingFails(t *testing.T) {
	var broken atomic.Bool
	emb := localEmbedder(64)
	e := newEnv(t, envConfig{embedder: EmbedderFunc(func(ctx context.Context, texts []string, inputType string) ([][]float32, error) {
		if broken.Load() {
			return nil, &provider.Error{Kind: provider.KindUnavailable, Provider: "test", Message: "down"}
		}
		return emb.Embed(ctx, texts, inputType)
	})})
	seedHandbook(t, e, "acme")
	broken.Store(true)
	resp, err := e.svc.Retrieve(context.Background(), "acme", "handbook", RetrieveRequest{Query: "vegetarian lunch"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.SearchType != "LEXICAL" || len(resp.Results) == 0 || resp.Results[0].Document.Name != "canteen.txt" {
		t.Fatalf("response %+v", resp)
	}
	_, err = e.svc.Retrieve(context.Background(), "acme", "handbook", RetrieveRequest{Query: "vegetarian lunch", SearchType: "SEMANTIC"})
	if pe, ok := provider.AsError(err); !ok || pe.Kind != provider.KindUnavailable {
		t.Fatalf("semantic error %v, want the provider's", err)
	}
}
