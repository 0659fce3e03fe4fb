package extract

import (
	"regexp"
	"strings"
)

var (
	mdLink  = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdEmph  = regexp.MustCompile(`(\*\*|__|\*|_|~~|` + "`" + `)([^*_~` + "`" + `\n]+)(\*\*|__|\*|_|~~|` + "`" + `)`)
	mdFence = regexp.MustCompile("^\\s*(```|~~~)")
	mdATX   = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
)

// extractMarkdown starts a section at every heading (ATX "# x" or setext underlines) and
// records the heading path; inline markup is reduced to its text.
func extractMarkdown(data []byte) ([]Section, error) {
	s, err := decodeUTF8(data)
	if err != nil {
		return nil, err
	}
	s = strings.TrimPrefix(s, "\ufeff")
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	// Front matter is metadata, not content.
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "---" {
		for i := 1; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) == "---" {
				lines = lines[i+1:]
				break
			}
		}
	}
	var (
		out   []Section
		path  [6]string
		cur   strings.Builder
		fence bool
	)
	headingPath := func() string {
		var parts []string
		for _, p := range path {
			if p != "" {
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, " > ")
	}
	heading := headingPath()
	flush := func() {
		if strings.TrimSpace(cur.String()) != "" {
			out = append(out, Section{Text: cur.String(), Heading: heading})
		}
		cur.Reset()
	}
	setHeading := func(level int, text string) {
		flush()
		path[level-1] = inlineMarkdown(text)
		for i := level; i < len(path); i++ {
			path[i] = ""
		}
		heading = headingPath()
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if mdFence.MatchString(l) {
			fence = !fence
			continue
		}
		if fence {
			cur.WriteString(l + "\n")
			continue
		}
		if m := mdATX.FindStringSubmatch(l); m != nil {
			setHeading(len(m[1]), m[2])
			continue
		}
		if i+1 < len(lines) && strings.TrimSpace(l) != "" {
			next := strings.TrimSpace(lines[i+1])
			if len(next) >= 2 && strings.Trim(next, "=") == "" {
				setHeading(1, l)
				i++
				continue
			}
			if len(next) >= 2 && strings.Trim(next, "-") == "" && !strings.HasPrefix(strings.TrimSpace(l), "-") {
				setHeading(2, l)
				i++
				continue
			}
		}
		cur.WriteString(inlineMarkdown(l) + "\n")
	}
	flush()
	return out, nil
}

func inlineMarkdown(l string) string {
	l = mdLink.ReplaceAllString(l, "$1")
	l = mdEmph.ReplaceAllString(l, "$2")
	t := strings.TrimLeft(l, " ")
	if strings.HasPrefix(t, "> ") {
		l = t[2:]
	}
	return strings.TrimSpace(l)
}
