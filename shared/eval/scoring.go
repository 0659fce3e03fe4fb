package eval

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/plinth-ai/plinth/shared/eval/judge"
	"github.com/plinth-ai/plinth/shared/eval/metrics"
	"github.com/plinth-ai/plinth/shared/provider"
)

var rougeScorer, _ = metrics.NewROUGEScorer([]string{MetricROUGE1, MetricROUGE2, MetricROUGEL})

// renderContexts lays out passages for a prompt: one passage as is, several numbered
// [1], [2], … so answers can cite them.
func renderContexts(ctxs []string) string {
	if len(ctxs) == 1 {
		return ctxs[0]
	}
	var b strings.Builder
	for i, c := range ctxs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "[%d] %s", i+1, c)
	}
	return b.String()
}

// BuildRequest renders the chat request a suite sends for an item, given the contexts
// to ground it in (retrieved ones for RAG targets, else the item's own).
func BuildRequest(t TargetSpec, it *Item, contexts []string) *provider.ChatRequest {
	var msgs []provider.Message
	if t.System != "" {
		msgs = append(msgs, provider.Message{Role: "system", Content: provider.TextContent(t.System)})
	}
	if len(it.Messages) > 0 {
		if len(contexts) > 0 {
			msgs = append(msgs, provider.Message{Role: "system", Content: provider.TextContent("Context:\n" + renderContexts(contexts))})
		}
		msgs = append(msgs, it.Messages...)
	} else {
		tmpl := t.PromptTemplate
		if tmpl == "" {
			tmpl = "{{input}}"
			if len(contexts) > 0 {
				tmpl = "Context:\n{{context}}\n\nQuestion: {{input}}"
			}
		}
		text := strings.NewReplacer("{{input}}", it.Input, "{{context}}", renderContexts(contexts)).Replace(tmpl)
		msgs = append(msgs, provider.Message{Role: "user", Content: provider.TextContent(text)})
	}
	req := &provider.ChatRequest{Model: t.Model, Messages: msgs}
	if t.MaxTokens > 0 {
		n := t.MaxTokens
		req.MaxTokens = &n
	}
	return req
}

// groundingContexts are the passages an answer should be faithful to.
func groundingContexts(su *Suite, res *ItemResult) []string {
	if su.Target.KnowledgeBase != "" {
		return res.Retrieved
	}
	return res.Item.Contexts
}

// scoreItem computes every requested metric for one result.
func (s *Service) scoreItem(ctx context.Context, su *Suite, jd *judge.Judge, res *ItemResult) error {
	ms := su.EffectiveMetrics()
	want := func(m string) bool { return slices.Contains(ms, m) }
	sc := map[string]float64{}
	refs, out := res.Item.References, res.Output
	if want(MetricExactMatch) {
		sc[MetricExactMatch] = 100 * metrics.ExactMatch(out, refs)
	}
	if want(MetricF1) {
		sc[MetricF1] = 100 * metrics.F1(out, refs)
	}
	if want(MetricROUGE1) || want(MetricROUGE2) || want(MetricROUGEL) {
		targets := refs
		if len(targets) == 0 {
			targets = []string{""}
		}
		r := rougeScorer.ScoreMulti(targets, out)
		for _, k := range []string{MetricROUGE1, MetricROUGE2, MetricROUGEL} {
			if want(k) {
				sc[k] = r[k].FMeasure
			}
		}
	}
	res.BLEU = nil
	if want(MetricBLEU) {
		if st, err := metrics.SegmentBLEUStats(out, refs); err == nil {
			res.BLEU = &st
			sc[MetricBLEU] = metrics.ComputeBLEU(st, true).Score
		}
	}
	if want(MetricEmbeddingSimilarity) && s.embedder != nil && hasNonEmpty(refs) {
		v, err := metrics.EmbeddingSimilarity(ctx, s.embedder, out, nonEmpty(refs))
		if err != nil {
			return fmt.Errorf("item %q: %w", res.ID, err)
		}
		sc[MetricEmbeddingSimilarity] = v
	}
	opts := metrics.DefaultRAGOptions
	if want(MetricContextPrecision) && su.Target.KnowledgeBase != "" {
		if v, ok := metrics.ContextPrecision(res.Retrieved, res.Item.Contexts, opts); ok {
			sc[MetricContextPrecision] = v
		}
	}
	if want(MetricContextRecall) && su.Target.KnowledgeBase != "" {
		if v, ok := metrics.ContextRecall(res.Retrieved, res.Item.Contexts, opts); ok {
			sc[MetricContextRecall] = v
		}
	}
	grounding := groundingContexts(su, res)
	if want(MetricFaithfulness) {
		if v, ok := metrics.Faithfulness(out, grounding, opts); ok {
			sc[MetricFaithfulness] = v
		}
	}
	if want(MetricCitationPrecision) {
		if v, ok := metrics.CitationPrecision(out, grounding, opts); ok {
			sc[MetricCitationPrecision] = v
		}
	}
	res.Verdicts = nil
	if jd != nil {
		in := judge.Input{Question: res.Item.question(), Answer: out, References: nonEmpty(refs), Contexts: grounding}
		for _, r := range su.Judge.Rubrics {
			v, err := jd.Evaluate(ctx, judge.Rubric(r), in)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				v.Rationale = "judge failed: " + err.Error()
				v.Score = 0
			} else {
				sc[JudgePrefix+r] = float64(v.Score)
			}
			res.Verdicts = append(res.Verdicts, v)
		}
	}
	res.Scores, res.Scored = sc, true
	return nil
}

func hasNonEmpty(xs []string) bool { return len(nonEmpty(xs)) > 0 }

func nonEmpty(xs []string) []string {
	var out []string
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			out = append(out, x)
		}
	}
	return out
}

// Aggregate holds a run's aggregate figures.
type Aggregate struct {
	Metrics           map[string]float64              `json:"metrics"`
	Judge             map[judge.Rubric]*judge.Summary `json:"judge,omitempty"`
	ItemCount         int                             `json:"item_count"`
	FailedItems       int                             `json:"failed_items"`
	TargetUsage       provider.Usage                  `json:"target_usage"`
	JudgeCostUSD      float64                         `json:"judge_cost_usd"`
	Passed            *bool                           `json:"passed,omitempty"`
	ThresholdFailures []ThresholdFailure              `json:"threshold_failures,omitempty"`
}

// aggregate computes run metrics from item results: means over the items where a
// metric is defined, corpus BLEU from summed statistics, judge summaries, thresholds.
// Items whose target call failed are counted in FailedItems and left out.
func aggregate(su *Suite, results []ItemResult) Aggregate {
	agg := Aggregate{Metrics: map[string]float64{}, ItemCount: len(results)}
	sums, counts := map[string]float64{}, map[string]int{}
	var bleu metrics.BLEUStats
	haveBLEU := false
	var verdicts []judge.Verdict
	for i := range results {
		r := &results[i]
		agg.TargetUsage.PromptTokens += r.Usage.PromptTokens
		agg.TargetUsage.CompletionTokens += r.Usage.CompletionTokens
		agg.TargetUsage.TotalTokens += r.Usage.TotalTokens
		for _, v := range r.Verdicts {
			agg.JudgeCostUSD += v.CostUSD
		}
		verdicts = append(verdicts, r.Verdicts...)
		if r.Error != "" {
			agg.FailedItems++
			continue
		}
		for k, v := range r.Scores {
			if k == MetricBLEU {
				continue
			}
			sums[k] += v
			counts[k]++
		}
		if r.BLEU != nil {
			bleu.Add(*r.BLEU)
			haveBLEU = true
		}
	}
	for k, n := range counts {
		agg.Metrics[k] = sums[k] / float64(n)
	}
	if haveBLEU {
		agg.Metrics[MetricBLEU] = metrics.ComputeBLEU(bleu, false).Score
	}
	if len(verdicts) > 0 {
		agg.Judge = judge.Summarize(verdicts)
	}
	if len(su.Thresholds) > 0 {
		passed := true
		keys := make([]string, 0, len(su.Thresholds))
		for k := range su.Thresholds {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			th := su.Thresholds[k]
			v, ok := agg.Metrics[k]
			if !ok || (HigherIsBetter(k) && v < th) || (!HigherIsBetter(k) && v > th) {
				passed = false
				agg.ThresholdFailures = append(agg.ThresholdFailures, ThresholdFailure{Metric: k, Threshold: th, Value: v})
			}
		}
		agg.Passed = &passed
	}
	return agg
}

// compare lists the metrics of cur that fell from base by more than their tolerance.
func compare(policy BaselinePolicy, base, cur map[string]float64) []Regression {
	keys := make([]string, 0, len(cur))
	for k := range cur {
		if _, ok := base[k]; ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []Regression
	for _, k := range keys {
		b, c := base[k], cur[k]
		tol := policy.Tolerance(k)
		delta := c - b
		fell := -delta
		if !HigherIsBetter(k) {
			fell = delta
		}
		if fell > tol+1e-9 {
			out = append(out, Regression{Metric: k, Baseline: b, Current: c, Delta: delta, Tolerance: tol})
		}
	}
	return out
}
