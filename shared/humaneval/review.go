package humaneval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/store"
)

// Pairwise choices as clicked, and what they mean.
const (
	ChoiceLeft  = "left"
	ChoiceRight = "right"
	ChoiceTie   = "tie"
)

func checkReviewer(reviewer string) error {
	if !reviewerPattern.MatchString(reviewer) {
		return invalid("reviewer is required (1-256 characters, no '#' or control characters)")
	}
	return nil
}

// assignment is what is stored for a reviewer shown an item.
type assignment struct {
	Order []string `json:"order"`
}

// Next returns the next item reviewer should review, or nil when nothing is left for
// them: items they have not reviewed that still need reviewers, fewest reviews first,
// then in queue order. A pairwise item's left/right order is drawn at random the first
// time a reviewer is shown it and kept, so a reload shows the same order and the review
// records what was seen.
func (s *Service) Next(ctx context.Context, tenant, queueID, reviewer string) (*Assignment, error) {
	if err := checkReviewer(reviewer); err != nil {
		return nil, err
	}
	q, err := s.GetQueue(ctx, tenant, queueID)
	if err != nil {
		return nil, err
	}
	items, err := s.items(ctx, queueID)
	if err != nil {
		return nil, err
	}
	reviews, err := s.reviews(ctx, queueID)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	mine := map[string]bool{}
	for _, r := range reviews {
		count[r.ItemID]++
		if r.Reviewer == reviewer {
			mine[r.ItemID] = true
		}
	}
	var open []Item
	for _, it := range items {
		if !mine[it.ID] && count[it.ID] < q.ReviewersPerItem {
			open = append(open, it)
		}
	}
	if len(open) == 0 {
		return nil, nil
	}
	sort.SliceStable(open, func(i, j int) bool { return count[open[i].ID] < count[open[j].ID] })
	it := open[0]
	a := &Assignment{QueueID: q.ID, Kind: q.Kind, Instructions: q.Instructions, Criteria: q.Criteria,
		ItemID: it.ID, Input: it.Input, References: it.References, Contexts: it.Contexts,
		Reviewer: reviewer, Remaining: len(open)}
	if q.Kind == KindRubric {
		a.Output = it.Output
		return a, nil
	}
	order, err := s.assign(ctx, q.ID, it.ID, reviewer)
	if err != nil {
		return nil, err
	}
	a.Order = order
	text := map[string]string{}
	for _, c := range it.Candidates {
		text[c.ID] = c.Text
	}
	a.Left, a.Right = text[order[0]], text[order[1]]
	return a, nil
}

// assign returns the order reviewer sees item's candidates in, drawing and storing it
// on first sight.
func (s *Service) assign(ctx context.Context, queueID, itemID, reviewer string) ([]string, error) {
	key := store.Key{PK: queuePK(queueID), SK: assignSK(itemID, reviewer)}
	for attempt := 0; attempt < 2; attempt++ {
		got, err := s.store.Get(ctx, key)
		if err == nil {
			var a assignment
			if err := json.Unmarshal(got.Data, &a); err != nil {
				return nil, fmt.Errorf("decode assignment: %w", err)
			}
			return a.Order, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("get assignment: %w", err)
		}
		s.mu.Lock()
		flip := s.rng.IntN(2) == 1
		s.mu.Unlock()
		a := assignment{Order: []string{"a", "b"}}
		if flip {
			a.Order = []string{"b", "a"}
		}
		b, _ := json.Marshal(a)
		_, err = s.store.Put(ctx, store.Item{Key: key, Data: b}, store.WriteOptions{Cond: store.IfNotExists})
		if err == nil {
			return a.Order, nil
		}
		if !errors.Is(err, store.ErrConditionFailed) {
			return nil, fmt.Errorf("store assignment: %w", err)
		}
		// Another request drew first; read what it stored.
	}
	return nil, fmt.Errorf("assignment of %s to %s: %w", itemID, reviewer, ErrConflict)
}

// Submit records reviewer's verdict on an item; a reviewer reviews an item once
// (ErrConflict after that). Rubric reviews score every criterion within its scale;
// pairwise reviews choose left, right or tie among the candidates as they were shown
// by Next, and are recorded with that order and the candidate the choice means.
func (s *Service) Submit(ctx context.Context, tenant string, r Review) (*Review, error) {
	if err := checkReviewer(r.Reviewer); err != nil {
		return nil, err
	}
	q, err := s.GetQueue(ctx, tenant, r.QueueID)
	if err != nil {
		return nil, err
	}
	item, err := s.item(ctx, q.ID, r.ItemID)
	if err != nil {
		return nil, err
	}
	if len(r.Comment) > 8000 || len(r.CorrectedOutput) > maxText {
		return nil, invalid("comment (8000) or corrected_output (%d bytes) too long", maxText)
	}
	r.CorrectedOutput = strings.TrimSpace(r.CorrectedOutput)
	switch q.Kind {
	case KindRubric:
		if r.Choice != "" {
			return nil, invalid("a rubric review gives scores, not a choice")
		}
		if len(r.Scores) != len(q.Criteria) {
			return nil, invalid("scores must rate each criterion: %s", criterionNames(q.Criteria))
		}
		for _, c := range q.Criteria {
			v, ok := r.Scores[c.Name]
			if !ok {
				return nil, invalid("scores.%s is missing", c.Name)
			}
			if v < c.Min || v > c.Max {
				return nil, invalid("scores.%s must be %d-%d", c.Name, c.Min, c.Max)
			}
		}
		r.Order, r.Preferred = nil, ""
	case KindPairwise:
		if len(r.Scores) > 0 {
			return nil, invalid("a pairwise review gives a choice, not scores")
		}
		got, err := s.store.Get(ctx, store.Key{PK: queuePK(q.ID), SK: assignSK(item.ID, r.Reviewer)})
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalid("item %s was not assigned to %s: ask for the next item first", item.ID, r.Reviewer)
		}
		if err != nil {
			return nil, fmt.Errorf("get assignment: %w", err)
		}
		var a assignment
		if err := json.Unmarshal(got.Data, &a); err != nil {
			return nil, fmt.Errorf("decode assignment: %w", err)
		}
		r.Order = a.Order
		switch r.Choice {
		case ChoiceLeft:
			r.Preferred = a.Order[0]
		case ChoiceRight:
			r.Preferred = a.Order[1]
		case ChoiceTie:
			r.Preferred = ChoiceTie
		default:
			return nil, invalid("choice must be left, right or tie")
		}
	}
	r.QueueID, r.ItemID = q.ID, item.ID
	r.CreatedAt = s.now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	_, err = s.store.Put(ctx, store.Item{Key: store.Key{PK: queuePK(q.ID), SK: reviewSK(item.ID, r.Reviewer)}, Data: b},
		store.WriteOptions{Cond: store.IfNotExists})
	if errors.Is(err, store.ErrConditionFailed) {
		return nil, fault.New(ErrReviewed, "item_id", "%s already reviewed item %s", r.Reviewer, item.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("store review: %w", err)
	}
	return &r, nil
}

func (s *Service) item(ctx context.Context, queueID, itemID string) (*Item, error) {
	items, err := s.items(ctx, queueID)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if items[i].ID == itemID {
			return &items[i], nil
		}
	}
	return nil, fmt.Errorf("item %s of review queue %s: %w", itemID, queueID, ErrNotFound)
}

func criterionNames(cs []Criterion) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}
