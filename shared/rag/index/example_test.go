package index_test

import (
	"context"
	"fmt"
	"os"

	"github.com/plinth-ai/plinth/shared/blob/fsblob"
	"github.com/plinth-ai/plinth/shared/rag/index"
)

func ExampleIndex_Search() {
	dir, _ := os.MkdirTemp("", "index-example")
	defer os.RemoveAll(dir)
	bs, _ := fsblob.New(dir)
	ctx := context.Background()
	ix, _ := index.NewManager(bs).Open(ctx, "acme", "handbook")
	_ = ix.Upsert(ctx, "leave", []index.Record{{ChunkID: "leave:0", Text: "Employees get 25 days of annual leave.", Metadata: map[string]any{"year": 2025.0}}})
	_ = ix.Upsert(ctx, "laptops", []index.Record{{ChunkID: "laptops:0", Text: "Laptops are replaced every three years.", Metadata: map[string]any{"year": 2024.0}}})
	hits, _ := ix.Search(ctx, index.Query{
		Text:   "how many days of leave",
		Type:   index.Lexical,
		Filter: &index.Filter{GreaterThanOrEquals: &index.Condition{Key: "year", Value: 2025.0}},
	})
	for _, h := range hits {
		fmt.Println(h.DocID, h.Text)
	}
	// Output: leave Employees get 25 days of annual leave.
}
