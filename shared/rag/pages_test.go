package rag

import (
	"slices"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/rag/chunk"
	"github.com/plinth-ai/plinth/shared/rag/extract"
)

// TestChunkOverAPageBreakReportsBothPages ingests a two-page PDF whose sentence runs on
// from page 1 to page 2: the passage that holds both halves cites pages 1 and 2.
func TestChunkOverAPageBreakReportsBothPages(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.createKB(t, KnowledgeBase{Tenant: "acme", ID: "claims"})
	d := e.upload(t, "acme", "claims", "claims.pdf", string(readTestdata(t, "claims-two-pages.pdf")), nil)
	if d.Status != StatusIndexed {
		t.Fatalf("document %s: %s", d.Status, d.Reason)
	}
	res := e.retrieve(t, "acme", "claims", RetrieveRequest{Query: "meals receipt forty pounds", TopK: 1, SearchType: "LEXICAL"})
	if len(res) != 1 || !strings.Contains(res[0].Text, "Claims for meals") || !strings.Contains(res[0].Text, "forty pounds") {
		t.Fatalf("want the passage over the page break, got %+v", res)
	}
	if res[0].Page != 1 || !slices.Equal(res[0].Pages, []int{1, 2}) {
		t.Fatalf("page %d, pages %v; want 1 and [1 2]", res[0].Page, res[0].Pages)
	}
	if src := BuildPrompt("meals?", res); !strings.Contains(src, "pages 1-2") {
		t.Fatalf("the sources a grounded answer sees do not say pages 1-2:\n%s", src)
	}
}

// TestChunkWindowsKnowTheirLastPage checks the chunker alone: a window ending on a later
// page than it starts records it, one within a page does not.
func TestChunkWindowsKnowTheirLastPage(t *testing.T) {
	secs := []extract.Section{{Text: "alpha beta gamma", Page: 1}, {Text: "delta epsilon zeta", Page: 2}, {Text: "eta theta iota", Page: 3}}
	chunks, err := chunk.Split(secs, chunk.Config{Strategy: chunk.Fixed, MaxTokens: 4, OverlapPercent: chunk.Percent(0)})
	if err != nil {
		t.Fatal(err)
	}
	got := make([][2]int, len(chunks))
	for i, c := range chunks {
		got[i] = [2]int{c.Page, c.EndPage}
	}
	want := [][2]int{{1, 2}, {2, 3}, {3, 0}}
	if !slices.Equal(got, want) {
		t.Fatalf("(page, end page) of chunks %v, want %v", got, want)
	}
}
