package humaneval

import (
	"fmt"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/idpattern"
)

// Sentinel errors; handlers map them to HTTP statuses with errors.Is.
var (
	// ErrInvalid means a request failed validation.
	ErrInvalid = fault.Sentinel("invalid", fault.ErrInvalid)
	// ErrNotFound means no queue, item or dataset has the ID.
	ErrNotFound = fault.Sentinel("not found", fault.ErrNotFound)
	// ErrConflict means a concurrent write won.
	ErrConflict = fault.Sentinel("conflict", fault.ErrConflict)
	// ErrReviewed means the reviewer already reviewed the item.
	ErrReviewed = fault.Sentinel("already reviewed", fault.ErrExists)
)

// Kind is how reviewers judge a queue's items.
type Kind string

const (
	// KindRubric: reviewers score one output on each criterion of a rubric.
	KindRubric Kind = "rubric"
	// KindPairwise: reviewers compare two outputs side by side and pick the better (or a tie).
	KindPairwise Kind = "pairwise"
)

// Source types a queue is built from.
const (
	SourceEvalRun  = "eval_run"
	SourceFeedback = "feedback"
	SourceSamples  = "samples"
)

// Limits.
const (
	MaxItems        = 2000
	MaxReviewers    = 10
	maxText         = 64 << 10
	defaultMinScore = 4
)

// Criterion is one rubric dimension scored on the integer scale Min..Max.
type Criterion struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Min         int    `json:"min"`
	Max         int    `json:"max"`
}

// DefaultRubric is used when a rubric queue names no criteria.
var DefaultRubric = []Criterion{
	{Name: "correctness", Description: "The answer is factually right and answers the question.", Min: 1, Max: 5},
	{Name: "helpfulness", Description: "The answer is complete, clear and useful.", Min: 1, Max: 5},
}

// Sample is one production sample posted to build a queue: a prompt with one output
// (rubric) or two outputs to compare (pairwise).
type Sample struct {
	ID         string         `json:"id,omitempty"`
	Input      string         `json:"input"`
	Output     string         `json:"output,omitempty"`
	Outputs    []string       `json:"outputs,omitempty"`
	References []string       `json:"references,omitempty"`
	Contexts   []string       `json:"contexts,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
}

// Source says where a queue's items come from.
type Source struct {
	// Type is eval_run, feedback or samples.
	Type string `json:"type"`
	// RunID is the evaluation run whose outputs are reviewed (eval_run).
	RunID string `json:"run_id,omitempty"`
	// CompareRunID is a second run over the same dataset: a pairwise queue compares the
	// two runs' outputs item by item.
	CompareRunID string `json:"compare_run_id,omitempty"`
	// MaxRating keeps only feedback rated at most this (feedback; 0 keeps all).
	MaxRating int `json:"max_rating,omitempty"`
	// Samples are inline production samples (samples); not kept on the queue.
	Samples []Sample `json:"samples,omitempty"`
	// SampleSize draws this many items at random (0 takes all, at most MaxItems).
	SampleSize int `json:"sample_size,omitempty"`
	// Seed makes the draw reproducible.
	Seed uint64 `json:"seed,omitempty"`
}

// Queue is a set of items waiting for human review.
type Queue struct {
	ID           string `json:"id"`
	Tenant       string `json:"tenant"`
	Name         string `json:"name"`
	Instructions string `json:"instructions,omitempty"`
	Kind         Kind   `json:"kind"`
	// Criteria is the rubric (rubric queues; pairwise queues may add criteria reviewers
	// explain their choice by, but they are not scored).
	Criteria []Criterion `json:"criteria,omitempty"`
	// ReviewersPerItem is how many different reviewers each item needs (default 2).
	ReviewersPerItem int    `json:"reviewers_per_item"`
	Source           Source `json:"source"`
	ItemCount        int    `json:"item_count"`
	// Progress counts reviews (filled on reads).
	Progress  *Progress `json:"progress,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// Progress summarises a queue's reviews.
type Progress struct {
	Reviews int `json:"reviews"`
	// Complete counts items with ReviewersPerItem reviews.
	Complete  int      `json:"complete"`
	Reviewers []string `json:"reviewers"`
}

// Candidate is one output of a pairwise item.
type Candidate struct {
	// ID is "a" or "b".
	ID string `json:"id"`
	// Label says where the output came from (a run ID, a model); hidden from reviewers.
	Label string `json:"label,omitempty"`
	Text  string `json:"text"`
}

// Item is one thing to review.
type Item struct {
	ID         string   `json:"id"`
	Index      int      `json:"index"`
	Input      string   `json:"input"`
	References []string `json:"references,omitempty"`
	Contexts   []string `json:"contexts,omitempty"`
	// Output is the answer under review (rubric).
	Output string `json:"output,omitempty"`
	// Candidates are the two answers compared (pairwise).
	Candidates []Candidate `json:"candidates,omitempty"`
	// Origin points back at the source: run_id and item_id, feedback_id and request_id.
	Origin   map[string]string `json:"origin,omitempty"`
	Metadata map[string]any    `json:"metadata,omitempty"`
	// Reviews are filled on admin reads.
	Reviews []Review `json:"reviews,omitempty"`
}

// Review is one reviewer's verdict on one item.
type Review struct {
	QueueID  string `json:"queue_id"`
	ItemID   string `json:"item_id"`
	Reviewer string `json:"reviewer"`
	// Scores maps each rubric criterion to its integer score (rubric).
	Scores map[string]int `json:"scores,omitempty"`
	// Choice is what the reviewer picked on screen: left, right or tie (pairwise).
	Choice string `json:"choice,omitempty"`
	// Preferred is the candidate the choice means: a, b or tie (pairwise).
	Preferred string `json:"preferred,omitempty"`
	// Order is the candidates as shown, left first (pairwise).
	Order []string `json:"order,omitempty"`
	// CorrectedOutput is the reviewer's own better answer, used as ground truth.
	CorrectedOutput string    `json:"corrected_output,omitempty"`
	Comment         string    `json:"comment,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
}

// Assignment is the next item for a reviewer, as they should see it: pairwise
// candidates in the order drawn for them (Left, Right), without labels.
type Assignment struct {
	QueueID      string      `json:"queue_id"`
	Kind         Kind        `json:"kind"`
	Instructions string      `json:"instructions,omitempty"`
	Criteria     []Criterion `json:"criteria,omitempty"`
	ItemID       string      `json:"item_id"`
	Input        string      `json:"input"`
	References   []string    `json:"references,omitempty"`
	Contexts     []string    `json:"contexts,omitempty"`
	Output       string      `json:"output,omitempty"`
	Left         string      `json:"left,omitempty"`
	Right        string      `json:"right,omitempty"`
	// Order names the candidates shown left and right.
	Order     []string `json:"order,omitempty"`
	Reviewer  string   `json:"reviewer"`
	Remaining int      `json:"remaining"`
}

var (
	idPattern       = idpattern.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	reviewerPattern = idpattern.MustCompile(`^[^\x00-\x1f#]{1,256}$`)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

// validate checks and completes a queue definition before items are built.
func (q *Queue) validate() error {
	q.Name = strings.TrimSpace(q.Name)
	switch {
	case q.Tenant == "":
		return invalid("tenant is required")
	case q.Name == "" || len(q.Name) > 200:
		return invalid("name is required (at most 200 characters)")
	case len(q.Instructions) > 8000:
		return invalid("instructions are at most 8000 characters")
	}
	if q.Kind == "" {
		q.Kind = KindRubric
	}
	if q.Kind != KindRubric && q.Kind != KindPairwise {
		return invalid("kind must be rubric or pairwise")
	}
	if q.ReviewersPerItem == 0 {
		q.ReviewersPerItem = 2
	}
	if q.ReviewersPerItem < 1 || q.ReviewersPerItem > MaxReviewers {
		return invalid("reviewers_per_item must be 1-%d", MaxReviewers)
	}
	if q.Kind == KindRubric && len(q.Criteria) == 0 {
		q.Criteria = append([]Criterion(nil), DefaultRubric...)
	}
	seen := map[string]bool{}
	for i := range q.Criteria {
		c := &q.Criteria[i]
		if c.Min == 0 && c.Max == 0 {
			c.Min, c.Max = 1, 5
		}
		switch {
		case !idPattern.MatchString(c.Name):
			return invalid("criteria[%d].name %q must be letters, digits, '.', '_' or '-'", i, c.Name)
		case seen[c.Name]:
			return invalid("criteria[%d].name %q is repeated", i, c.Name)
		case c.Max <= c.Min || c.Max-c.Min > 10:
			return invalid("criteria[%d] scale must have min < max with at most 11 points", i)
		}
		seen[c.Name] = true
	}
	if len(q.Criteria) > 10 {
		return invalid("at most 10 criteria")
	}
	s := &q.Source
	switch s.Type {
	case SourceEvalRun:
		if s.RunID == "" {
			return invalid("source.run_id is required for an eval_run source")
		}
		if q.Kind == KindPairwise && s.CompareRunID == "" {
			return invalid("source.compare_run_id is required for a pairwise queue over evaluation runs")
		}
		if q.Kind == KindRubric && s.CompareRunID != "" {
			return invalid("source.compare_run_id is only for pairwise queues")
		}
	case SourceFeedback:
		if q.Kind != KindRubric {
			return invalid("feedback has one output per request: use a rubric queue")
		}
		if s.MaxRating < 0 || s.MaxRating > 5 {
			return invalid("source.max_rating must be 0-5")
		}
	case SourceSamples:
		if len(s.Samples) == 0 {
			return invalid("source.samples is empty")
		}
	default:
		return invalid("source.type must be eval_run, feedback or samples")
	}
	if s.SampleSize < 0 || s.SampleSize > MaxItems {
		return invalid("source.sample_size must be 0-%d", MaxItems)
	}
	return nil
}

// validateItem checks an item built from a source.
func validateItem(kind Kind, it *Item) error {
	if strings.TrimSpace(it.Input) == "" {
		return invalid("item %s has no input", it.ID)
	}
	if len(it.Input) > maxText || len(it.Output) > maxText {
		return invalid("item %s is longer than %d bytes", it.ID, maxText)
	}
	switch kind {
	case KindRubric:
		if it.Output == "" {
			return invalid("item %s has no output to review", it.ID)
		}
	case KindPairwise:
		if len(it.Candidates) != 2 {
			return invalid("item %s needs exactly two outputs to compare", it.ID)
		}
		for _, c := range it.Candidates {
			if len(c.Text) > maxText {
				return invalid("item %s output is longer than %d bytes", it.ID, maxText)
			}
		}
	}
	return nil
}
