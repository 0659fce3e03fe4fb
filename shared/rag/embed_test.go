package rag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/rag/chunk"
)

// budgetEmbedder embeds with the local model under a budget of perWindow texts: past it,
// it refuses as the gateway's quota does (a rate limit with Retry-After) until the test's
// clock moves on. It counts every text it embedded.
type budgetEmbedder struct {
	mu        sync.Mutex
	inner     Embedder
	perWindow int
	used      int
	window    time.Time
	now       func() time.Time
	embedded  map[string]int
	refusals  int
}

func (b *budgetEmbedder) Embed(ctx context.Context, texts []string, inputType string) ([][]float32, error) {
	b.mu.Lock()
	if w := b.now().Truncate(time.Minute); !w.Equal(b.window) {
		b.window, b.used = w, 0
	}
	if len(texts) > b.perWindow {
		b.mu.Unlock()
		return nil, &quota.LimitError{Err: quota.ErrRateLimited, Limit: "tokens_per_minute", Scope: "key", RetryAfter: time.Minute, TooLarge: true}
	}
	if b.used+len(texts) > b.perWindow {
		b.refusals++
		retry := b.window.Add(time.Minute).Sub(b.now())
		b.mu.Unlock()
		return nil, &quota.LimitError{Err: quota.ErrRateLimited, Limit: "tokens_per_minute", Scope: "key", RetryAfter: retry}
	}
	b.used += len(texts)
	for _, t := range texts {
		b.embedded[t]++
	}
	b.mu.Unlock()
	return b.inner.Embed(ctx, texts, inputType)
}

// fakeTime is a clock that moves only when the service sleeps.
type fakeTime struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (f *fakeTime) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }

func (f *fakeTime) sleep(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
	f.slept = append(f.slept, d)
	return nil
}

func paragraphs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Paragraph %d is about topic number %d of the long handbook.\n\n", i, i)
	}
	return b.String()
}

// pacedEnv is a knowledge base whose embeddings go through a budget of a few texts a
// minute, with the service on a clock that only its own waits move.
func pacedEnv(t *testing.T, perWindow int) (*env, *budgetEmbedder, *fakeTime) {
	t.Helper()
	clock := &fakeTime{t: time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC)}
	b := &budgetEmbedder{inner: localEmbedder(64), perWindow: perWindow, now: clock.now, embedded: map[string]int{}}
	e := newEnv(t, envConfig{embedder: b, opts: []Option{WithEmbedBatch(4), WithClock(clock.now)}})
	e.svc.sleep = clock.sleep
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "docs", Chunking: chunk.Config{Strategy: chunk.Recursive, MaxTokens: 20, OverlapPercent: chunk.Percent(0)}})
	return e, b, clock
}

// TestIngestionIsPacedNotFailed: a document needing many minutes of the ingestion budget
// waits for it and ends indexed; every chunk is embedded once.
func TestIngestionIsPacedNotFailed(t *testing.T) {
	e, b, clock := pacedEnv(t, 8)
	d := e.upload(t, "acme", "docs", "long.md", paragraphs(40), nil)
	if d.Status != StatusIndexed {
		t.Fatalf("document %s (%s), want indexed after waiting for the budget", d.Status, d.Reason)
	}
	if b.refusals == 0 || len(clock.slept) == 0 {
		t.Fatalf("the budget never refused (%d) or the service never waited (%v): the test does not test pacing", b.refusals, clock.slept)
	}
	for text, n := range b.embedded {
		if n != 1 {
			t.Fatalf("%q embedded %d times", text, n)
		}
	}
	if len(b.embedded) != d.Chunks {
		t.Fatalf("%d texts embedded for %d chunks", len(b.embedded), d.Chunks)
	}
}

// TestPacedEmbeddingResumesWhereItStopped: when an Embed task's time runs out waiting for
// the budget it fails with IngestionPaced, and its retry embeds only what was left.
func TestPacedEmbeddingResumesWhereItStopped(t *testing.T) {
	e, b, _ := pacedEnv(t, 8)
	ctx := context.Background()
	// Run the flow's tasks by hand up to Embed, with a deadline that allows two waits.
	job, err := e.svc.Prepare(ctx, objectEventFor(t, e, "acme", "docs", "long.md", paragraphs(40)))
	if err != nil {
		t.Fatal(err)
	}
	if job, err = e.svc.Extract(ctx, job); err != nil {
		t.Fatal(err)
	}
	if job, err = e.svc.Chunk(ctx, job); err != nil {
		t.Fatal(err)
	}
	// The task's deadline leaves two minutes of waiting (the pacer keeps 15 s to report).
	short, cancel := context.WithTimeout(ctx, 2*time.Minute+15*time.Second)
	defer cancel()
	_, err = e.svc.Embed(short, job)
	var te *TaskError
	if !errors.As(err, &te) || te.Name != ErrorPaced {
		t.Fatalf("Embed out of time: %v, want %s", err, ErrorPaced)
	}
	done := len(b.embedded)
	if done == 0 || done >= job.Chunks {
		t.Fatalf("%d of %d chunks embedded before the deadline; want some, not all", done, job.Chunks)
	}
	out, err := e.svc.Embed(ctx, job)
	if err != nil {
		t.Fatalf("the retry: %v", err)
	}
	for text, n := range b.embedded {
		if n != 1 {
			t.Fatalf("%q embedded %d times: the retry did not resume", text, n)
		}
	}
	if len(b.embedded) != job.Chunks || (out.VectorsKey == "" && out.VectorsRaw == nil) {
		t.Fatalf("%d of %d chunks embedded after the retry", len(b.embedded), job.Chunks)
	}
}

// TestBatchLargerThanTheBudgetIsSplit: a budget smaller than a batch is not a failure.
func TestBatchLargerThanTheBudgetIsSplit(t *testing.T) {
	e, b, _ := pacedEnv(t, 3)
	d := e.upload(t, "acme", "docs", "long.md", paragraphs(10), nil)
	if d.Status != StatusIndexed || len(b.embedded) != d.Chunks {
		t.Fatalf("document %s (%s), %d of %d chunks embedded", d.Status, d.Reason, len(b.embedded), d.Chunks)
	}
}

// objectEventFor puts a document in the bucket and returns the event that announces it.
func objectEventFor(t *testing.T, e *env, tenant, kb, name, body string) ObjectEvent {
	t.Helper()
	key := ObjectKey(tenant, kb, name)
	if _, err := e.blob.Put(context.Background(), key, strings.NewReader(body), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var ev ObjectEvent
	if err := json.Unmarshal(e.svc.objectEvent(context.Background(), "Object Created", key, int64(len(body))), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}
