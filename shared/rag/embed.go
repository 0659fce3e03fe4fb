package rag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/quota"
	"github.com/plinth-ai/plinth/shared/rag/chunk"
	"github.com/plinth-ai/plinth/shared/tokens"
)

// ErrorPaced is the task error of an Embed task that used its time waiting for the
// ingestion budget: the state machine retries it for as long as it takes, and the next
// attempt resumes where this one stopped.
const ErrorPaced = "IngestionPaced"

// maxPacedWait bounds how long one Embed task waits for the budget when its context has
// no deadline of its own.
const maxPacedWait = 10 * time.Minute

// Embed embeds the job's chunks in batches with the knowledge base's embedding model,
// charged to the tenant under its ingestion budget (never its requests' limits).
//
// Ingestion is paced, not failed: when the budget (or the provider's rate limit) refuses
// a batch, the task waits as long as it is told and carries on. Each finished batch of a
// document of several batches is kept in the work area, so when the task's time runs out
// it returns ErrorPaced and its retry resumes at the first batch not yet embedded. A batch
// larger than the whole budget is split until it fits.
func (s *Service) Embed(ctx context.Context, job Job) (Job, error) {
	kb, err := s.GetKnowledgeBase(ctx, job.Tenant, job.KB)
	if err != nil {
		return Job{}, err
	}
	emb, err := s.embedder(ctx, kb)
	if err != nil {
		return Job{}, err
	}
	if emb == nil {
		job.VectorsKey, job.VectorsRaw = "", nil
		return job, nil // lexical-only knowledge base
	}
	var chunks []chunk.Chunk
	if err := s.readJSON(ctx, job.ChunksKey, job.ChunksRaw, &chunks); err != nil {
		return Job{}, err
	}
	texts := make([]string, len(chunks))
	used := 0
	for i, c := range chunks {
		texts[i] = searchText(c)
		used += tokens.Count(texts[i])
	}
	p := s.newPacer(ctx)
	resumable := len(texts) > s.embedBatch
	var vecs [][]float32
	for lo := 0; lo < len(texts); lo += s.embedBatch {
		hi := min(lo+s.embedBatch, len(texts))
		key := s.workKey(job, fmt.Sprintf("vectors-%08d.bin", lo))
		if resumable {
			if got, ok := s.embeddedBatch(ctx, key, hi-lo); ok {
				vecs = append(vecs, got...)
				continue
			}
		}
		got, err := s.embedPaced(ctx, p, emb, texts[lo:hi], "search_document")
		if errors.Is(err, errPaced) {
			return Job{}, &TaskError{Name: ErrorPaced, Err: fmt.Errorf("%d of %d chunks embedded; the ingestion budget paces the rest: %w", lo, len(texts), err)}
		}
		if err != nil {
			return Job{}, err
		}
		if resumable {
			if err := s.keepBatch(ctx, &job, key, got); err != nil {
				return Job{}, err
			}
		}
		vecs = append(vecs, got...)
	}
	if s.usage != nil {
		s.usage(ctx, kb.Tenant, kb.ID, kb.EmbeddingModel, used)
	}
	buf, err := encodeVectors(vecs)
	if err != nil {
		return Job{}, permanent(err)
	}
	job.VectorsKey, job.VectorsRaw, err = s.stash(ctx, &job, "vectors.bin", buf)
	return job, err
}

// embeddedBatch returns a batch an earlier attempt embedded, if it kept one of n vectors.
func (s *Service) embeddedBatch(ctx context.Context, key string, n int) ([][]float32, bool) {
	b, _, err := s.readBlob(ctx, key)
	if err != nil {
		return nil, false
	}
	v, err := decodeVectors(b)
	if err != nil || len(v) != n {
		return nil, false
	}
	return v, true
}

// keepBatch writes a batch's vectors to the work area for a later attempt to resume from.
func (s *Service) keepBatch(ctx context.Context, job *Job, key string, vecs [][]float32) error {
	b, err := encodeVectors(vecs)
	if err != nil {
		return permanent(err)
	}
	if _, err := s.blob.Put(ctx, key, bytes.NewReader(b), blob.PutOptions{}); err != nil {
		return transient(fmt.Errorf("write %s: %w", key, err))
	}
	job.Spilled = true
	return nil
}

// errPaced means the task's time for waiting on the budget is used up.
var errPaced = errors.New("out of time waiting for the ingestion budget")

// pacer decides how long an Embed task may still wait for the budget.
type pacer struct {
	until time.Time
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func (s *Service) newPacer(ctx context.Context) *pacer {
	p := &pacer{now: s.now, sleep: s.sleep}
	budget := maxPacedWait
	if d, ok := ctx.Deadline(); ok {
		// Keep time to store what was embedded and report.
		budget = time.Until(d) - 15*time.Second
	}
	p.until = s.now().Add(budget)
	return p
}

// wait sleeps d, or fails with errPaced when that would run past the task's time.
func (p *pacer) wait(ctx context.Context, d time.Duration) error {
	if p.now().Add(d).After(p.until) {
		return errPaced
	}
	if err := p.sleep(ctx, d); err != nil {
		return transient(err)
	}
	return nil
}

// embedPaced embeds texts, waiting out pacing refusals (the ingestion budget's rate
// limit, the provider's) and splitting a batch larger than the whole budget. Other
// failures are retried embedAttempts times.
func (s *Service) embedPaced(ctx context.Context, p *pacer, emb Embedder, texts []string, inputType string) ([][]float32, error) {
	failures := 0
	backoff := s.embedBackoff
	for {
		if err := s.limit.wait(ctx); err != nil {
			return nil, transient(err)
		}
		vecs, err := emb.Embed(ctx, texts, inputType)
		if err == nil {
			if len(vecs) != len(texts) {
				return nil, permanent(fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts)))
			}
			return vecs, nil
		}
		var le *quota.LimitError
		switch {
		case errors.As(err, &le) && le.TooLarge && len(texts) > 1:
			half := len(texts) / 2
			a, err := s.embedPaced(ctx, p, emb, texts[:half], inputType)
			if err != nil {
				return nil, err
			}
			b, err := s.embedPaced(ctx, p, emb, texts[half:], inputType)
			if err != nil {
				return nil, err
			}
			return append(a, b...), nil
		case paced(err):
			wait := max(gateway.RetryAfter(err), time.Second)
			if err := p.wait(ctx, wait); err != nil {
				return nil, err
			}
		case gateway.Permanent(err):
			return nil, permanent(fmt.Errorf("embed: %w", err))
		default:
			failures++
			if failures >= s.embedAttempts {
				return nil, transient(fmt.Errorf("embed after %d attempts: %w", failures, err))
			}
			if err := p.wait(ctx, max(backoff, gateway.RetryAfter(err))); err != nil {
				return nil, err
			}
			backoff *= 2
		}
	}
}

// paced reports a refusal that only asks to wait: a rate limit, the platform's or the
// provider's.
func paced(err error) bool {
	var le *quota.LimitError
	if errors.As(err, &le) {
		return !le.TooLarge && errors.Is(err, quota.ErrRateLimited)
	}
	return errors.Is(err, gateway.ErrUpstreamRateLimited)
}
