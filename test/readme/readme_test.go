package readme

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestREADME runs every shell block of README.md in order against a freshly started local
// platform and checks each output the README states (see the package documentation for
// the convention).
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole README against a live platform; not a unit test")
	}
	root := repoRoot(t)
	blocks := readmeBlocks(t, root)
	commands := runnableCommands(t, blocks)

	addr := freeAddr(t)
	env := readmeEnv(addr, filepath.Join(t.TempDir(), "plinth-data"))
	sh := newShell(t, root, env)
	began := time.Now()
	started := false
	for _, c := range commands {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		if isMakeRun(c.Text) {
			if started {
				cancel()
				t.Fatalf("README.md:%d: a second make run", c.Line)
			}
			p, err := startPlatform(ctx, t, c.Text, root, addr, env)
			cancel()
			if err != nil {
				t.Fatalf("README.md:%d: %s: %v", c.Line, c.Text, err)
			}
			started = true
			checkOutput(t, c, p.output())
			continue
		}
		if !started && strings.Contains(c.Text, "$PLINTH") {
			cancel()
			t.Fatalf("README.md:%d: uses $PLINTH before make run", c.Line)
		}
		out, code, err := sh.run(ctx, c.Text)
		cancel()
		if err != nil {
			t.Fatalf("README.md:%d: %s\n%v\noutput so far:\n%s", c.Line, c.Text, err, out)
		}
		if code != 0 {
			t.Fatalf("README.md:%d: exit status %d\n$ %s\n%s", c.Line, code, c.Text, out)
		}
		checkOutput(t, c, out)
	}
	if !started {
		t.Fatal("README.md never runs make run")
	}
	t.Logf("ran %d README commands in %s", len(commands), time.Since(began).Round(100*time.Millisecond))
}

// TestREADMEBlocksFollowTheConvention checks what can be checked without running anything:
// every command that prints states its output, and blocks that cannot run say why.
func TestREADMEBlocksFollowTheConvention(t *testing.T) {
	root := repoRoot(t)
	blocks := readmeBlocks(t, root)
	for _, c := range runnableCommands(t, blocks) {
		for _, p := range c.Expect {
			if !Informative(p) {
				t.Errorf("README.md:%d: the expected output %q states nothing", c.Line, p)
			}
		}
		silent := strings.Contains(c.Text, "$(curl") || strings.Contains(c.Text, ">/dev/null")
		if strings.Contains(c.Text, "curl ") && !silent && len(c.Expect) == 0 {
			t.Errorf("README.md:%d: a curl command without its expected output (# → …):\n%s", c.Line, c.Text)
		}
	}
}

func readmeBlocks(t *testing.T, root string) []Block {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks, err := ParseBlocks(f)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	return blocks
}

// runnableCommands returns the commands of the blocks that run, listing those that do not,
// and fails on a program block that does not say why it does not run.
func runnableCommands(t *testing.T, blocks []Block) []Command {
	t.Helper()
	var out []Command
	for _, b := range blocks {
		switch {
		case b.Runs():
			cmds, err := SplitCommands(b)
			if err != nil {
				t.Fatalf("README.md: %v", err)
			}
			out = append(out, cmds...)
		case b.NotRun != "":
			t.Logf("README.md:%d: %s block not run: %s", b.Line, b.Lang, b.NotRun)
		case b.NeedsMarker():
			t.Errorf("README.md:%d: a %s block must run or carry <!-- not-run: reason --> before it", b.Line, b.Lang)
		}
	}
	if len(out) == 0 {
		t.Fatal("README.md has no shell commands to run")
	}
	return out
}

func checkOutput(t *testing.T, c Command, out string) {
	t.Helper()
	if strings.TrimSpace(out) != "" && len(c.Expect) == 0 {
		t.Fatalf("README.md:%d: the command prints output the README does not show (add # → lines):\n$ %s\n%s", c.Line, c.Text, out)
	}
	if missing := CheckOutput(c.Expect, out); missing != "" {
		t.Fatalf("README.md:%d: no output line matches\n  # → %s\n$ %s\n%s", c.Line, missing, c.Text, out)
	}
}

// isMakeRun reports whether a command is the README's "make run" (a trailing comment
// allowed).
func isMakeRun(text string) bool {
	cmd, _, _ := strings.Cut(text, "#")
	return strings.TrimSpace(cmd) == "make run"
}

// TestDocumentedFilesExist checks that every repository file the README and `make help`
// name (events, examples, state machines, docs) exists.
func TestDocumentedFilesExist(t *testing.T) {
	root := repoRoot(t)
	for _, doc := range []string{"README.md", "Makefile"} {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range repoPath.FindAllStringSubmatch(string(b), -1) {
			p := strings.TrimRight(m[1], ".,)")
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Errorf("%s names %s, which does not exist", doc, p)
			}
		}
	}
}

// repoPath finds paths at the start of a word, e.g. "-F file=@docs/examples/handbook.md"
// but not the knowledge base "docs" in ".../knowledge-bases/docs/documents".
var repoPath = regexp.MustCompile("(?:^|[\\s(`\"'=@\\[])((?:events|docs|statemachines)/[A-Za-z0-9_./-]*[A-Za-z0-9_/])")
