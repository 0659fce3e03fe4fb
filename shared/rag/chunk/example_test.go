package chunk_test

import (
	"fmt"

	"github.com/plinth-ai/plinth/shared/rag/chunk"
	"github.com/plinth-ai/plinth/shared/rag/extract"
)

func ExampleSplit() {
	secs, _ := extract.Extract("guide.md", "", []byte("# Setup\n\nInstall the tool. Then run it.\n\n# Usage\n\nCall it with a file."))
	chunks, _ := chunk.Split(secs, chunk.Config{Strategy: chunk.Recursive})
	for _, c := range chunks {
		fmt.Printf("%d %q under %q (%d tokens)\n", c.Index, c.Text, c.Heading, c.Tokens)
	}
	// Output:
	// 0 "Install the tool. Then run it." under "Setup" (8 tokens)
	// 1 "Call it with a file." under "Usage" (6 tokens)
}
