package readme

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, line string
		want          bool
	}{
		{`{"object":"list"}`, `{"object":"list"}`, true},
		{`{"object":"list"}`, `{"object":"list"} `, true},
		{`{"object":"list"}`, `{"object":"list","data":[]}`, false},
		{`{"object":"list",…`, `{"object":"list","data":[]}`, true},
		{`…"id":"local-chat"…`, `{"data":[{"id":"local-chat","object":"model"}]}`, true},
		{`…"id":"local-chat"…`, `{"data":[{"id":"local-embed"}]}`, false},
		{`Plinth is running at http://…`, `Plinth is running at http://127.0.0.1:4242`, true},
		{`a…b…c`, `a-c-b`, false},
		{`a…b…c`, `axbyc`, true},
		{`ab…ba`, `aba`, false},
		{`…done`, `all done`, true},
		{`…done`, `done?`, false},
	} {
		if got := Match(c.pattern, c.line); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.line, got, c.want)
		}
	}
}

func TestCheckOutputMatchesLinesInOrder(t *testing.T) {
	out := "first\nnoise\nsecond\nthird"
	if m := CheckOutput([]string{"first", "third"}, out); m != "" {
		t.Errorf("in-order patterns reported %q missing", m)
	}
	if m := CheckOutput([]string{"third", "first"}, out); m != "first" {
		t.Errorf("out-of-order patterns: missing = %q, want first", m)
	}
	if m := CheckOutput([]string{"second", "second"}, out); m != "second" {
		t.Errorf("one line matched twice: missing = %q, want second", m)
	}
}

func TestSplitCommands(t *testing.T) {
	b := Block{Lang: "sh", Line: 10, Text: strings.Split(`# a comment
curl -s $PLINTH/admin/tenants -d '{"id":"acme",
  "name":"Acme"}'
# → {"id":"acme",…
# → …"name":"Acme"…

export A=1 \
  B=2
for i in 1 2; do
  echo $i
done
# → 1`, "\n")}
	cmds, err := SplitCommands(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 3 {
		t.Fatalf("%d commands, want 3: %+v", len(cmds), cmds)
	}
	if cmds[0].Line != 12 || !strings.HasSuffix(cmds[0].Text, `"name":"Acme"}'`) || len(cmds[0].Expect) != 2 {
		t.Errorf("first command = %+v", cmds[0])
	}
	if cmds[1].Line != 17 || len(cmds[1].Expect) != 0 {
		t.Errorf("second command = %+v", cmds[1])
	}
	if !strings.HasSuffix(cmds[2].Text, "done") || len(cmds[2].Expect) != 1 || cmds[2].Expect[0] != "1" {
		t.Errorf("third command = %+v", cmds[2])
	}
}

func TestSplitCommandsRefusesAnUnfinishedCommand(t *testing.T) {
	if _, err := SplitCommands(Block{Lang: "sh", Text: []string{`curl -d '{"a":1}`}}); err == nil {
		t.Fatal("an open quote was accepted")
	}
	if _, err := SplitCommands(Block{Lang: "sh", Text: []string{`# → output before any command`}}); err == nil {
		t.Fatal("an expectation without a command was accepted")
	}
}

func TestParseBlocksReadsMarkers(t *testing.T) {
	doc := "# Title\n\n```sh\nmake run\n```\n\n<!-- not-run: needs an AWS account -->\n```sh\nmake deploy\n```\n\n```python\nprint(1)\n```\n\n```\ndiagram\n```\n"
	blocks, err := ParseBlocks(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 4 {
		t.Fatalf("%d blocks, want 4", len(blocks))
	}
	if !blocks[0].Runs() || blocks[0].Line != 3 {
		t.Errorf("block 0 = %+v, want a runnable sh block at line 3", blocks[0])
	}
	if blocks[1].Runs() || blocks[1].NotRun != "needs an AWS account" {
		t.Errorf("block 1 = %+v, want not run with its reason", blocks[1])
	}
	if blocks[2].Runs() || !blocks[2].NeedsMarker() {
		t.Errorf("block 2 = %+v: a python block without a marker must be flagged", blocks[2])
	}
	if blocks[3].Runs() || blocks[3].NeedsMarker() {
		t.Errorf("block 3 = %+v: an untagged block is an illustration", blocks[3])
	}
}
