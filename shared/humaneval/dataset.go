package humaneval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/store"
)

// Dataset formats.
const (
	// FormatEval is evaluation items: {"id","input","references","contexts","metadata"}.
	FormatEval = "eval"
	// FormatChat is supervised fine-tuning in OpenAI's chat format: {"messages":[user, assistant]}.
	FormatChat = "chat"
	// FormatPreference is preference tuning in OpenAI's format: {"input":{"messages"},
	// "preferred_output":[…],"non_preferred_output":[…]} (pairwise queues only).
	FormatPreference = "preference"
)

// Reasons an item is left out of a dataset.
const (
	SkipTooFewReviews = "too_few_reviews"
	SkipNotAccepted   = "not_accepted"
	SkipNoMajority    = "no_majority"
)

// PublishRequest turns a queue's reviewed items into a new dataset version.
type PublishRequest struct {
	// Name is the dataset's name within the tenant; each publish adds a version.
	Name string `json:"name"`
	// MinReviews is how many reviews an item needs (default: the queue's reviewers per item).
	MinReviews int `json:"min_reviews,omitempty"`
	// MinScore is the mean score at which a rubric item's output is accepted as a
	// reference, on every criterion (default: three quarters up each criterion's scale,
	// 4 of 1–5). Outputs that miss it are kept only through reviewers' corrections.
	MinScore float64 `json:"min_score,omitempty"`
}

// DatasetVersion is one immutable version of a ground-truth dataset.
type DatasetVersion struct {
	Tenant  string `json:"tenant"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	QueueID string `json:"queue_id"`
	Kind    Kind   `json:"kind"`
	Items   int    `json:"items"`
	// Skipped counts items left out, by reason.
	Skipped map[string]int `json:"skipped"`
	// Alpha is Krippendorff's alpha of the queue when published (the mean over rubric
	// criteria), when defined.
	Alpha *float64 `json:"alpha,omitempty"`
	// URI is the evaluation dataset, usable as an evaluation suite's dataset.uri;
	// ChatURI and PreferenceURI the fine-tuning files.
	URI           string    `json:"uri"`
	ChatURI       string    `json:"chat_uri"`
	PreferenceURI string    `json:"preference_uri,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	CreatedBy     string    `json:"created_by,omitempty"`
}

// DatasetSummary is a dataset with its versions, newest first.
type DatasetSummary struct {
	Name     string           `json:"name"`
	Tenant   string           `json:"tenant"`
	Latest   int              `json:"latest_version"`
	Versions []DatasetVersion `json:"versions"`
}

func datasetPK(tenant string) string { return "GTDATASET#" + tenant }
func datasetSK(name string, v int) string {
	return fmt.Sprintf("%s#%06d", name, v)
}

// DatasetKey is the blob key of a dataset version in a format.
func DatasetKey(tenant, name string, version int, format string) string {
	ext := ".jsonl"
	if format != FormatEval {
		ext = "." + format + ".jsonl"
	}
	return fmt.Sprintf("datasets/%s/%s/v%d%s", tenant, name, version, ext)
}

// evalRecord is one evaluation item as shared/eval reads it.
type evalRecord struct {
	ID         string         `json:"id"`
	Input      string         `json:"input"`
	References []string       `json:"references"`
	Contexts   []string       `json:"contexts,omitempty"`
	Metadata   map[string]any `json:"metadata"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRecord struct {
	Messages []chatMessage `json:"messages"`
}

type preferenceRecord struct {
	Input              chatRecord    `json:"input"`
	PreferredOutput    []chatMessage `json:"preferred_output"`
	NonPreferredOutput []chatMessage `json:"non_preferred_output"`
}

// Publish writes the queue's reviewed items as the next version of a ground-truth
// dataset: an item is included when it has MinReviews reviews and a reference, which is
// every reviewer's corrected output plus, for rubric queues, the output when its mean
// scores reach MinScore, and for pairwise queues the output most reviewers preferred.
func (s *Service) Publish(ctx context.Context, tenant, queueID string, req PublishRequest, createdBy string) (*DatasetVersion, error) {
	req.Name = strings.TrimSpace(req.Name)
	if !idPattern.MatchString(req.Name) {
		return nil, invalid("name %q must be 1-128 letters, digits, '.', '_' or '-'", req.Name)
	}
	q, err := s.GetQueue(ctx, tenant, queueID)
	if err != nil {
		return nil, err
	}
	if req.MinReviews == 0 {
		req.MinReviews = q.ReviewersPerItem
	}
	if req.MinReviews < 1 || req.MinReviews > MaxReviewers {
		return nil, invalid("min_reviews must be 1-%d", MaxReviewers)
	}
	items, err := s.Items(ctx, tenant, queueID)
	if err != nil {
		return nil, err
	}
	var evalBuf, chatBuf, prefBuf bytes.Buffer
	encE, encC, encP := encoder(&evalBuf), encoder(&chatBuf), encoder(&prefBuf)
	v := &DatasetVersion{Tenant: q.Tenant, Name: req.Name, QueueID: q.ID, Kind: q.Kind, Skipped: map[string]int{}, CreatedBy: createdBy}
	for _, it := range items {
		if len(it.Reviews) < req.MinReviews {
			v.Skipped[SkipTooFewReviews]++
			continue
		}
		refs, meta, rejected, reason := decide(q, &it, req.MinScore)
		if len(refs) == 0 {
			v.Skipped[reason]++
			continue
		}
		meta["source"] = "human-review"
		meta["queue_id"] = q.ID
		meta["reviews"] = len(it.Reviews)
		for k, x := range it.Origin {
			meta[k] = x
		}
		if err := encE.Encode(evalRecord{ID: it.ID, Input: it.Input, References: refs, Contexts: it.Contexts, Metadata: meta}); err != nil {
			return nil, err
		}
		if err := encC.Encode(chatRecord{Messages: []chatMessage{{Role: "user", Content: it.Input}, {Role: "assistant", Content: refs[0]}}}); err != nil {
			return nil, err
		}
		if q.Kind == KindPairwise && rejected != "" {
			if err := encP.Encode(preferenceRecord{
				Input:              chatRecord{Messages: []chatMessage{{Role: "user", Content: it.Input}}},
				PreferredOutput:    []chatMessage{{Role: "assistant", Content: refs[0]}},
				NonPreferredOutput: []chatMessage{{Role: "assistant", Content: rejected}},
			}); err != nil {
				return nil, err
			}
		}
		v.Items++
	}
	if v.Items == 0 {
		return nil, invalid("no item of queue %s qualifies yet (%s)", q.ID, skippedText(v.Skipped))
	}
	if ag := measure(q, reviewsOf(items)); len(ag.Measures) > 0 {
		var xs []float64
		for _, m := range ag.Measures {
			if m.Alpha != nil {
				xs = append(xs, *m.Alpha)
			}
		}
		v.Alpha = mean(xs)
	}
	if err := s.reserveVersion(ctx, v); err != nil {
		return nil, err
	}
	files := map[string]*bytes.Buffer{FormatEval: &evalBuf, FormatChat: &chatBuf}
	if q.Kind == KindPairwise {
		files[FormatPreference] = &prefBuf
	}
	for format, buf := range files {
		if _, err := s.blobs.Put(ctx, DatasetKey(v.Tenant, v.Name, v.Version, format), buf, blob.PutOptions{ContentType: "application/x-ndjson"}); err != nil {
			// The version stays reserved but unusable; remove it so the next publish reuses nothing half-written.
			_ = s.store.Delete(context.WithoutCancel(ctx), store.Key{PK: datasetPK(v.Tenant), SK: datasetSK(v.Name, v.Version)}, store.WriteOptions{})
			return nil, fmt.Errorf("write dataset %s v%d: %w", v.Name, v.Version, err)
		}
	}
	return v, nil
}

func encoder(w io.Writer) *json.Encoder {
	e := json.NewEncoder(w)
	e.SetEscapeHTML(false)
	return e
}

func reviewsOf(items []Item) []Review {
	var out []Review
	for _, it := range items {
		out = append(out, it.Reviews...)
	}
	return out
}

func skippedText(m map[string]int) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// decide returns an item's references (best first), its review summary, the rejected
// output of a pairwise item, and why it is skipped when there is no reference.
func decide(q *Queue, it *Item, minScore float64) (refs []string, meta map[string]any, rejected, reason string) {
	meta = map[string]any{}
	var corrections []string
	seen := map[string]bool{}
	for _, r := range it.Reviews {
		if r.CorrectedOutput != "" && !seen[r.CorrectedOutput] {
			seen[r.CorrectedOutput] = true
			corrections = append(corrections, r.CorrectedOutput)
		}
	}
	if q.Kind == KindRubric {
		means := map[string]float64{}
		accepted := true
		for _, c := range q.Criteria {
			sum := 0
			for _, r := range it.Reviews {
				sum += r.Scores[c.Name]
			}
			m := float64(sum) / float64(len(it.Reviews))
			means[c.Name] = m
			threshold := minScore
			if threshold == 0 {
				threshold = float64(c.Min) + 0.75*float64(c.Max-c.Min)
			}
			if m < threshold {
				accepted = false
			}
		}
		meta["mean_scores"] = means
		meta["accepted_output"] = accepted
		refs = corrections
		if accepted && !seen[it.Output] {
			refs = append(refs, it.Output)
		}
		return refs, meta, "", SkipNotAccepted
	}
	votes := map[string]int{}
	for _, r := range it.Reviews {
		votes[r.Preferred]++
	}
	meta["votes"] = votes
	var winner, loser string
	switch {
	case votes["a"] > votes["b"] && votes["a"] > votes[ChoiceTie]:
		winner, loser = "a", "b"
	case votes["b"] > votes["a"] && votes["b"] > votes[ChoiceTie]:
		winner, loser = "b", "a"
	}
	text := map[string]string{}
	for _, c := range it.Candidates {
		text[c.ID] = c.Text
	}
	refs = corrections
	if winner != "" {
		meta["preferred"] = winner
		if !seen[text[winner]] {
			refs = append(refs, text[winner])
		}
		rejected = text[loser]
	}
	return refs, meta, rejected, SkipNoMajority
}

// reserveVersion stores v as the dataset's next version, retrying when a concurrent
// publish takes the number first.
func (s *Service) reserveVersion(ctx context.Context, v *DatasetVersion) error {
	for attempt := 0; attempt < 5; attempt++ {
		latest, err := s.latestVersion(ctx, v.Tenant, v.Name)
		if err != nil {
			return err
		}
		v.Version = latest + 1
		v.CreatedAt = s.now().UTC()
		v.URI = "blob://" + DatasetKey(v.Tenant, v.Name, v.Version, FormatEval)
		v.ChatURI = "blob://" + DatasetKey(v.Tenant, v.Name, v.Version, FormatChat)
		v.PreferenceURI = ""
		if v.Kind == KindPairwise {
			v.PreferenceURI = "blob://" + DatasetKey(v.Tenant, v.Name, v.Version, FormatPreference)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = s.store.Put(ctx, store.Item{Key: store.Key{PK: datasetPK(v.Tenant), SK: datasetSK(v.Name, v.Version)}, Data: b}, store.WriteOptions{Cond: store.IfNotExists})
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConditionFailed) {
			return fmt.Errorf("store dataset version: %w", err)
		}
	}
	return fmt.Errorf("dataset %s: too many concurrent publishes: %w", v.Name, ErrConflict)
}

func (s *Service) latestVersion(ctx context.Context, tenant, name string) (int, error) {
	rows, err := s.store.Query(ctx, datasetPK(tenant), store.QueryOptions{Prefix: name + "#", Desc: true, Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("dataset %s versions: %w", name, err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(rows[0].SK, name+"#"))
	if err != nil {
		return 0, fmt.Errorf("dataset %s: malformed version key %q", name, rows[0].SK)
	}
	return n, nil
}

// Datasets lists a tenant's ground-truth datasets with their versions.
func (s *Service) Datasets(ctx context.Context, tenant string) ([]DatasetSummary, error) {
	if tenant == "" {
		return nil, invalid("tenant is required")
	}
	rows, err := s.store.Query(ctx, datasetPK(tenant), store.QueryOptions{})
	if err != nil {
		return nil, fmt.Errorf("list datasets of %s: %w", tenant, err)
	}
	byName := map[string]*DatasetSummary{}
	var names []string
	for _, r := range rows {
		var v DatasetVersion
		if err := json.Unmarshal(r.Data, &v); err != nil {
			return nil, fmt.Errorf("decode dataset version %s: %w", r.SK, err)
		}
		d := byName[v.Name]
		if d == nil {
			d = &DatasetSummary{Name: v.Name, Tenant: tenant}
			byName[v.Name] = d
			names = append(names, v.Name)
		}
		d.Versions = append(d.Versions, v)
	}
	sort.Strings(names)
	out := make([]DatasetSummary, 0, len(names))
	for _, n := range names {
		d := byName[n]
		sort.Slice(d.Versions, func(i, j int) bool { return d.Versions[i].Version > d.Versions[j].Version })
		d.Latest = d.Versions[0].Version
		out = append(out, *d)
	}
	return out, nil
}

// Dataset returns one dataset with its versions.
func (s *Service) Dataset(ctx context.Context, tenant, name string) (*DatasetSummary, error) {
	all, err := s.Datasets(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("dataset %s of tenant %s: %w", name, tenant, ErrNotFound)
}

// DatasetContent opens one version of a dataset in a format (eval, chat or preference)
// as JSON Lines; version 0 means the latest. The caller closes the reader.
func (s *Service) DatasetContent(ctx context.Context, tenant, name string, version int, format string) (io.ReadCloser, *DatasetVersion, error) {
	if format == "" {
		format = FormatEval
	}
	if format != FormatEval && format != FormatChat && format != FormatPreference {
		return nil, nil, invalid("format must be eval, chat or preference")
	}
	d, err := s.Dataset(ctx, tenant, name)
	if err != nil {
		return nil, nil, err
	}
	var v *DatasetVersion
	for i := range d.Versions {
		if d.Versions[i].Version == version || (version == 0 && i == 0) {
			v = &d.Versions[i]
			break
		}
	}
	if v == nil {
		return nil, nil, fmt.Errorf("dataset %s version %d: %w", name, version, ErrNotFound)
	}
	if format == FormatPreference && v.Kind != KindPairwise {
		return nil, nil, invalid("only datasets from pairwise queues have a preference format")
	}
	rc, _, err := s.blobs.Get(ctx, DatasetKey(tenant, name, v.Version, format))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil, fmt.Errorf("dataset %s v%d content: %w", name, v.Version, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read dataset %s v%d: %w", name, v.Version, err)
	}
	return rc, v, nil
}
