package main

import (
	"math"
	"testing"

	"github.com/plinth-ai/plinth/shared/eval/metrics"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/test/datasets"
)

func squadFilePath(t *testing.T) string {
	t.Helper()
	return datasets.Require(t, squadPath...)
}

// The official script scores the gold answers themselves 100/100; this checks the
// loader and the normalisation on all 1,407 real questions.
func TestLoadSQuADAndOracleScores(t *testing.T) {
	t.Parallel()
	items, err := loadSQuAD(squadFilePath(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1407 || countUnanswerable(items) != 702 {
		t.Fatalf("%d items, %d unanswerable; want 1407 and 702", len(items), countUnanswerable(items))
	}
	var em, f1, emEmpty float64
	for _, it := range items {
		oracle := it.References[0]
		em += metrics.ExactMatch(oracle, it.References)
		f1 += metrics.F1(oracle, it.References)
		emEmpty += metrics.ExactMatch("", it.References)
	}
	n := float64(len(items))
	if em != n || f1 != n {
		t.Fatalf("oracle EM %v F1 %v of %v", em, f1, n)
	}
	// Always abstaining scores exactly the unanswerable share, as in the official script.
	if got, want := 100*emEmpty/n, 100*702.0/1407; math.Abs(got-want) > 1e-9 {
		t.Fatalf("abstain EM = %v, want %v", got, want)
	}
}

func TestLexicalJudgeVerdicts(t *testing.T) {
	t.Parallel()
	mk := func(text string) *provider.ChatRequest {
		return &provider.ChatRequest{Messages: []provider.Message{{Role: "user", Content: provider.TextContent(text)}}}
	}
	resp, err := lexicalJudge(mk("Evaluate the ANSWER for correctness.\n<reference_answer index=\"1\">\nFrance\n</reference_answer>\n<answer>\nFrance\n</answer>\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "```json\n{\"score\": 5, \"rationale\": \"lexical agreement 1.00\"}\n```" {
		t.Fatalf("verdict %q", got)
	}
	resp, _ = lexicalJudge(mk("Evaluate the ANSWER for correctness.\n<reference_answer index=\"1\">\nFrance\n</reference_answer>\n<answer>\nGermany\n</answer>\n"))
	if got := resp.Choices[0].Message.Content.String(); got != "```json\n{\"score\": 1, \"rationale\": \"lexical agreement 0.00\"}\n```" {
		t.Fatalf("verdict %q", got)
	}
}
