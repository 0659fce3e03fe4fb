// Command evaldemo runs an evaluation suite over the first five articles of the SQuAD
// v2.0 development set through the real evaluation state machine on the embedded
// executor, with the built-in extractive local-chat model as the target and a
// deterministic lexical judge, prints EM, F1, ROUGE-L, BLEU, the judge summary and the
// throughput, then swaps in a worse target and shows the regression event.
//
// Usage (from the project root): go run ./test/cmd/evaldemo [-data PATH] [-concurrency N] [-limit N]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/eval/judge"
	"github.com/plinth-ai/plinth/shared/eval/metrics"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/local"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
	"github.com/plinth-ai/plinth/shared/tokens"
	"github.com/plinth-ai/plinth/statemachines"
	"github.com/plinth-ai/plinth/test/datasets"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "evaldemo:", err)
		os.Exit(1)
	}
}

func run() error {
	dataPath := flag.String("data", "", "SQuAD v2.0 JSON file (default: "+filepath.Join(squadPath...)+" in the datasets directory, "+datasets.EnvVar+")")
	concurrency := flag.Int("concurrency", 4, "Map state MaxConcurrency")
	limit := flag.Int("limit", 0, "use only the first N questions (0 = all)")
	outDir := flag.String("out", "", "write each run's report.html and the suite's trend.html to this directory")
	flag.Parse()

	if *dataPath == "" {
		p, err := datasets.Path(squadPath...)
		if err != nil {
			return err
		}
		*dataPath = p
	}
	items, err := loadSQuAD(*dataPath, *limit)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "evaldemo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st, err := boltstore.Open(filepath.Join(tmp, "plinth.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	blobs, err := fsblob.New(filepath.Join(tmp, "blobs"))
	if err != nil {
		return err
	}

	chat := local.NewChat()
	var current eval.TargetFunc
	target := eval.TargetFunc(func(ctx context.Context, tenant string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
		if req.Model == lexicalJudgeModel {
			return lexicalJudge(req)
		}
		return current(ctx, tenant, req)
	})
	current = func(ctx context.Context, _ string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
		return chat.Chat(ctx, req)
	}

	events := eval.NewMemoryPublisher(nil)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var exec *flow.Executor
	svc, err := eval.NewService(st, blobs, target,
		eval.WithEventPublisher(events), eval.WithLogger(quiet), eval.WithBatchSize(25),
		eval.WithRunStarter(func(ctx context.Context, in json.RawMessage) (string, error) {
			e, err := exec.Start(ctx, "evaluation", "", in)
			return e.ID, err
		}))
	if err != nil {
		return err
	}
	if exec, err = newExecutor(svc, quiet); err != nil {
		return err
	}
	defer exec.Close(context.Background())

	ctx := context.Background()
	// The dataset goes to the blob store as JSONL, as a production suite's would.
	var buf strings.Builder
	if err := eval.EncodeJSONL(&buf, items); err != nil {
		return err
	}
	if _, err := blobs.Put(ctx, "datasets/squad-v2-dev-first5.jsonl", strings.NewReader(buf.String()), blobPutOptions); err != nil {
		return err
	}
	suite := eval.Suite{
		Tenant: "demo", ID: "squad-v2-first5",
		Description: "SQuAD v2.0 dev, first five articles: question + its paragraph as context",
		Dataset:     eval.Dataset{URI: "blob://datasets/squad-v2-dev-first5.jsonl"},
		Target:      eval.TargetSpec{Model: local.ChatModelID},
		Metrics:     []string{"exact_match", "f1", "rouge1", "rouge2", "rougeL", "bleu", "faithfulness"},
		Judge:       &eval.JudgeSpec{Model: lexicalJudgeModel, Rubrics: []string{"correctness", "faithfulness"}},
	}
	if _, err := svc.CreateSuite(ctx, suite); err != nil {
		return err
	}
	fmt.Printf("Dataset: %s\n  %d questions (%d unanswerable), stored as %s\n", *dataPath, len(items), countUnanswerable(items), suite.Dataset.URI)
	fmt.Printf("Flow: statemachines/evaluation.asl.json on the embedded executor, MaxConcurrency %d, batches of 25\n\n", *concurrency)

	fmt.Printf("Run 1: target %s (extractive: quotes the context sentences that best match the question)\n", local.ChatModelID)
	r1, err := runOnce(ctx, svc, exec, suite.ID, *concurrency)
	if err != nil {
		return err
	}
	printRun(r1)

	fmt.Println("\nRun 2: target swapped for a worse one (lead-1: always the first sentence of the context)")
	current = leadOne
	r2, err := runOnce(ctx, svc, exec, suite.ID, *concurrency)
	if err != nil {
		return err
	}
	printRun(r2)

	if *outDir != "" {
		if err := writePages(ctx, svc, *outDir, suite.ID, r1, r2); err != nil {
			return err
		}
	}

	fmt.Println("\nEvents published (EventBridge PutEvents entries):")
	for _, e := range events.Events() {
		var d eval.EventDetail
		_ = json.Unmarshal(e.Detail, &d)
		fmt.Printf("  source=%s detail-type=%q run=%s status=%s", e.Source, e.DetailType, d.RunID, d.Status)
		if e.DetailType == eval.DetailTypeRegressed {
			fmt.Printf(" baseline=%s\n", d.BaselineRunID)
			for _, g := range d.Regressions {
				fmt.Printf("    %-22s baseline %8.3f  current %8.3f  delta %+8.3f (tolerance %.3f)\n", g.Metric, g.Baseline, g.Current, g.Delta, g.Tolerance)
			}
			continue
		}
		fmt.Println()
	}
	return nil
}

// writePages saves the HTML reports and the trend page.
func writePages(ctx context.Context, svc *eval.Service, dir, suiteID string, runs ...*eval.Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, r := range runs {
		var b strings.Builder
		if err := svc.WriteReport(ctx, &b, r); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, r.ID+".html"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	su, err := svc.GetSuite(ctx, "", suiteID)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := svc.WriteTrend(ctx, &b, su); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "trend.html"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nReports written to %s\n", dir)
	return nil
}

var blobPutOptions = blob.PutOptions{ContentType: "application/x-ndjson"}

func runOnce(ctx context.Context, svc *eval.Service, exec *flow.Executor, suiteID string, concurrency int) (*eval.Run, error) {
	start := time.Now()
	r, err := svc.StartRun(ctx, "", suiteID, concurrency)
	if err != nil {
		return nil, err
	}
	e, err := exec.Wait(ctx, r.ExecutionID)
	if err != nil {
		return nil, err
	}
	if e.Status != flow.StatusSucceeded {
		return nil, fmt.Errorf("execution %s: %s: %s", e.Status, e.Error, e.Cause)
	}
	r, err = svc.GetRun(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	wall := time.Since(start)
	fmt.Printf("  run %s: %s in %s (%.0f items/s through the flow)\n", r.ID, r.Status, wall.Round(time.Millisecond), float64(r.ItemCount)/wall.Seconds())
	return r, nil
}

func printRun(r *eval.Run) {
	m := r.Metrics
	fmt.Printf("  EM %.2f   F1 %.2f   ROUGE-1 %.4f   ROUGE-2 %.4f   ROUGE-L %.4f   BLEU %.2f   faithfulness %.4f\n",
		m["exact_match"], m["f1"], m["rouge1"], m["rouge2"], m["rougeL"], m["bleu"], m["faithfulness"])
	for _, rub := range r.Suite.Judge.Rubrics {
		s := r.Judge[judge.Rubric(rub)]
		if s == nil {
			continue
		}
		fmt.Printf("  judge %-12s mean %.2f over %d items (failures %d), scores 1..5: %v, judge tokens %d, cost $%.4f\n",
			rub, s.Mean, s.Count, s.Failures, s.Distribution, s.Usage.TotalTokens, s.CostUSD)
	}
	fmt.Printf("  target tokens %d; items failed %d\n", r.TargetUsage.TotalTokens, r.FailedItems)
}

func newExecutor(svc *eval.Service, log *slog.Logger) (*flow.Executor, error) {
	def, err := statemachines.Definition(statemachines.Evaluation)
	if err != nil {
		return nil, err
	}
	subs := map[string]string{}
	tasks := map[string]flow.TaskFunc{}
	for name, fn := range svc.Tasks() {
		arn := "arn:aws:lambda:local:000000000000:function:" + name
		subs[name], tasks[arn] = arn, flow.TaskFunc(fn)
	}
	m, err := flow.Load(def, subs)
	if err != nil {
		return nil, err
	}
	ex := flow.NewExecutor(flow.WithTasks(tasks), flow.WithLogger(log))
	return ex, ex.Register("evaluation", m)
}

// squadPath is the SQuAD development file inside the datasets directory.
var squadPath = []string{"squad", "dev-v2.0-first5articles.json"}

// squadFile is the SQuAD v2.0 JSON layout.
type squadFile struct {
	Data []struct {
		Title      string `json:"title"`
		Paragraphs []struct {
			Context string `json:"context"`
			QAs     []struct {
				ID           string `json:"id"`
				Question     string `json:"question"`
				IsImpossible bool   `json:"is_impossible"`
				Answers      []struct {
					Text string `json:"text"`
				} `json:"answers"`
			} `json:"qas"`
		} `json:"paragraphs"`
	} `json:"data"`
}

// loadSQuAD builds one item per question: the question as input, its paragraph as the
// context, the gold answers as references ("" for unanswerable questions).
func loadSQuAD(path string, limit int) ([]eval.Item, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f squadFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var items []eval.Item
	for _, art := range f.Data {
		for _, p := range art.Paragraphs {
			for _, qa := range p.QAs {
				refs := []string{""}
				if !qa.IsImpossible && len(qa.Answers) > 0 {
					refs = refs[:0]
					for _, a := range qa.Answers {
						refs = append(refs, a.Text)
					}
				}
				items = append(items, eval.Item{
					ID: qa.ID, Input: qa.Question, Contexts: []string{p.Context}, References: refs,
					Metadata: map[string]any{"title": art.Title, "is_impossible": qa.IsImpossible},
				})
				if limit > 0 && len(items) == limit {
					return items, nil
				}
			}
		}
	}
	return items, nil
}

func countUnanswerable(items []eval.Item) int {
	n := 0
	for _, it := range items {
		if len(it.References) == 1 && it.References[0] == "" {
			n++
		}
	}
	return n
}

// leadOne is the worse target: it answers with the first sentence of the context.
func leadOne(_ context.Context, _ string, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	prompt := req.Messages[len(req.Messages)-1].Content.String()
	ctxText, _, _ := strings.Cut(strings.TrimPrefix(prompt, "Context:\n"), "\n\nQuestion:")
	sentences := metrics.SplitSentences(ctxText)
	answer := ""
	if len(sentences) > 0 {
		answer = sentences[0]
	}
	return textResponse("lead-1", answer, tokens.Count(prompt)), nil
}

const lexicalJudgeModel = "lexical-judge"

// lexicalJudge stands in for an LLM judge so the demo runs without a model account: it
// reads the rubric prompt and scores correctness by SQuAD F1 against the references and
// faithfulness by the share of answer sentences supported by the context, mapped to 1–5.
// It answers in a code fence, as chatty judges do, to exercise the verdict parser.
func lexicalJudge(req *provider.ChatRequest) (*provider.ChatResponse, error) {
	prompt := req.Messages[len(req.Messages)-1].Content.String()
	answer := between(prompt, "<answer>\n", "\n</answer>")
	var frac float64
	switch {
	case strings.Contains(prompt, "Evaluate the ANSWER for correctness"):
		refs := all(prompt, "\">\n", "\n</reference_answer>")
		frac = metrics.F1(answer, refs)
	case strings.Contains(prompt, "Evaluate the ANSWER for faithfulness"):
		ctxs := all(prompt, "\">\n", "\n</context>")
		frac, _ = metrics.Faithfulness(answer, ctxs, metrics.RAGOptions{})
	default:
		frac = 0.5
	}
	score := 1 + int(frac*4+0.5)
	text := fmt.Sprintf("```json\n{\"score\": %d, \"rationale\": \"lexical agreement %.2f\"}\n```", score, frac)
	return textResponse(lexicalJudgeModel, text, tokens.Count(prompt)), nil
}

func textResponse(model, text string, promptTokens int) *provider.ChatResponse {
	c := tokens.Count(text)
	return &provider.ChatResponse{
		Object: "chat.completion", Model: model,
		Choices: []provider.Choice{{Message: provider.Message{Role: "assistant", Content: provider.TextContent(text)}, FinishReason: "stop"}},
		Usage:   &provider.Usage{PromptTokens: promptTokens, CompletionTokens: c, TotalTokens: promptTokens + c},
	}
}

func between(s, open, close string) string {
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, close)
	return v
}

// all returns the bodies of every element ending with close (opened by open).
func all(s, open, close string) []string {
	var out []string
	for {
		i := strings.Index(s, close)
		if i < 0 {
			return out
		}
		head := s[:i]
		j := strings.LastIndex(head, open)
		if j >= 0 {
			out = append(out, head[j+len(open):])
		}
		s = s[i+len(close):]
	}
}
