// Package readme runs the repository's README.md as a script, the way a newcomer pastes it,
// against a freshly started local platform, and checks every output it shows.
//
// The convention the README follows:
//
//   - Every fenced block tagged sh (or bash, shell) runs, top to bottom, in one bash session
//     whose working directory is the repository root: variables exported in one block are
//     seen by later ones. Every command must exit 0.
//   - The command "make run" starts the platform: it runs in the background with PLINTH_ADDR
//     and PLINTH_DATA set to a free port and a fresh directory (both also exported to the
//     README's shell) and must answer GET /healthz before the next command runs.
//   - A comment line "# → pattern" right after a command states one line of its output
//     (stdout and stderr together). A command's patterns match its output lines in order,
//     other lines may come between. "…" matches any text; the rest is literal; a pattern is
//     anchored at both ends of the line unless it starts or ends with "…". A command that
//     prints anything must state at least one pattern that is more than "…".
//   - A block that cannot run here carries <!-- not-run: reason --> on the line before its
//     fence; the test lists such blocks. Blocks in a programming language (python, go, js,
//     ...) must carry one. Untagged, text, json and yaml blocks are illustrations.
package readme

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
)

// Arrow starts a comment line that states expected output.
const Arrow = "# → "

// Ellipsis matches any text in an expected-output pattern.
const Ellipsis = "…"

// Block is one fenced code block of the README.
type Block struct {
	// Lang is the fence's first word (sh, python, ...), empty when untagged.
	Lang string
	// Line is the 1-based line of the opening fence.
	Line int
	// NotRun is the reason given by a <!-- not-run: … --> marker, or "".
	NotRun string
	// Text is the block's content, one element per line.
	Text []string
}

// Runs reports whether the block is executed.
func (b Block) Runs() bool { return shellLangs[b.Lang] && b.NotRun == "" }

// NeedsMarker reports whether a block that does not run must say why: programs in
// another language than the shell.
func (b Block) NeedsMarker() bool {
	return !shellLangs[b.Lang] && !illustrationLangs[b.Lang]
}

var (
	shellLangs        = map[string]bool{"sh": true, "bash": true, "shell": true}
	illustrationLangs = map[string]bool{"": true, "text": true, "json": true, "yaml": true, "jsonl": true}
	fenceRe           = regexp.MustCompile("^(```+)\\s*([A-Za-z0-9_+-]*)")
	markerRe          = regexp.MustCompile(`^<!--\s*not-run:\s*(.*?)\s*-->$`)
)

// ParseBlocks returns the fenced code blocks of a Markdown document.
func ParseBlocks(r io.Reader) ([]Block, error) {
	var (
		blocks   []Block
		cur      *Block
		fence    string
		prev     string // the last non-blank line outside a block
		lineNo   int
		scanner  = bufio.NewScanner(r)
		maxToken = 1 << 20
	)
	scanner.Buffer(make([]byte, 64<<10), maxToken)
	for scanner.Scan() {
		lineNo++
		line := scanner.Text()
		if cur != nil {
			if strings.HasPrefix(strings.TrimSpace(line), fence) && strings.Trim(strings.TrimSpace(line), "`") == "" {
				blocks = append(blocks, *cur)
				cur = nil
				prev = ""
				continue
			}
			cur.Text = append(cur.Text, line)
			continue
		}
		if m := fenceRe.FindStringSubmatch(line); m != nil {
			b := Block{Lang: strings.ToLower(m[2]), Line: lineNo}
			if mm := markerRe.FindStringSubmatch(strings.TrimSpace(prev)); mm != nil {
				b.NotRun = mm[1]
				if b.NotRun == "" {
					return nil, fmt.Errorf("line %d: a not-run marker needs a reason", lineNo-1)
				}
			}
			cur, fence = &b, m[1]
			continue
		}
		if strings.TrimSpace(line) != "" {
			prev = line
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: the code block is never closed", cur.Line)
	}
	return blocks, nil
}

// Command is one shell command of a block with the output it is expected to print.
type Command struct {
	// Text is the command as written (several lines when it continues).
	Text string
	// Line is the README line the command starts on.
	Line int
	// Expect are the stated output patterns, in order.
	Expect []string
}

// SplitCommands cuts a shell block into commands. A command continues over lines while
// bash finds it incomplete (an open quote, a trailing backslash, an unfinished loop).
// Comment lines between commands are skipped, except "# → " lines, which state the
// previous command's output.
func SplitCommands(b Block) ([]Command, error) {
	var (
		out     []Command
		pending []string
		start   int
	)
	for i, line := range b.Text {
		lineNo := b.Line + 1 + i
		trimmed := strings.TrimSpace(line)
		if len(pending) == 0 {
			switch {
			case strings.HasPrefix(trimmed, strings.TrimSpace(Arrow)):
				if len(out) == 0 {
					return nil, fmt.Errorf("line %d: expected output before any command", lineNo)
				}
				// The pattern is what follows "# → ", leading spaces included.
				pat, ok := strings.CutPrefix(trimmed, Arrow)
				if !ok {
					pat = strings.TrimPrefix(trimmed, strings.TrimSpace(Arrow))
				}
				out[len(out)-1].Expect = append(out[len(out)-1].Expect, strings.TrimRight(pat, " \t"))
				continue
			case trimmed == "" || strings.HasPrefix(trimmed, "#"):
				continue
			}
			start = lineNo
		}
		pending = append(pending, line)
		text := strings.Join(pending, "\n")
		complete, err := completeCommand(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		if complete {
			out = append(out, Command{Text: text, Line: start})
			pending = nil
		}
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("line %d: the command never ends (an open quote or a trailing backslash)", start)
	}
	return out, nil
}

// completeCommand asks bash whether text is a whole command.
func completeCommand(text string) (bool, error) {
	if strings.HasSuffix(strings.TrimRight(text, " \t"), "\\") {
		return false, nil
	}
	out, err := exec.Command("bash", "-n", "-c", text).CombinedOutput()
	if err == nil {
		return true, nil
	}
	msg := string(out)
	if strings.Contains(msg, "unexpected end of file") || strings.Contains(msg, "unexpected EOF") {
		return false, nil
	}
	return false, fmt.Errorf("bash cannot parse the command: %s", strings.TrimSpace(msg))
}

// Match reports whether line matches an expected-output pattern.
func Match(pattern, line string) bool {
	line = strings.TrimRight(line, " \t\r")
	parts := strings.Split(pattern, Ellipsis)
	if len(parts) == 1 {
		return line == pattern
	}
	first, last := parts[0], parts[len(parts)-1]
	if !strings.HasPrefix(line, first) {
		return false
	}
	rest := line[len(first):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, mid)
		if i < 0 {
			return false
		}
		rest = rest[i+len(mid):]
	}
	return strings.HasSuffix(rest, last)
}

// CheckOutput matches the patterns against the output's lines in order and returns the
// first pattern no line matches, or "" when all match.
func CheckOutput(patterns []string, output string) (missing string) {
	lines := strings.Split(output, "\n")
	i := 0
	for _, p := range patterns {
		found := false
		for ; i < len(lines); i++ {
			if Match(p, lines[i]) {
				found = true
				i++
				break
			}
		}
		if !found {
			return p
		}
	}
	return ""
}

// Informative reports whether a pattern states anything (is more than ellipses and blanks).
func Informative(pattern string) bool {
	return strings.TrimSpace(strings.ReplaceAll(pattern, Ellipsis, "")) != ""
}
