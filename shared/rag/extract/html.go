package extract

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// extractHTML walks the DOM, skipping non-content elements, and starts a section at every
// h1–h6 with the heading path as its Heading.
func extractHTML(data []byte) ([]Section, error) {
	doc, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: html: %v", ErrCorrupt, err)
	}
	var (
		out   []Section
		path  [6]string
		cur   strings.Builder
		title string
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
	heading := ""
	flush := func() {
		if strings.TrimSpace(cur.String()) != "" {
			out = append(out, Section{Text: cur.String(), Heading: heading})
		}
		cur.Reset()
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			space := func() {
				if s := cur.String(); len(s) > 0 && s[len(s)-1] != ' ' && s[len(s)-1] != '\n' {
					cur.WriteByte(' ')
				}
			}
			t := strings.Join(strings.Fields(n.Data), " ")
			if t == "" {
				if n.Data != "" {
					space()
				}
				return
			}
			if strings.TrimLeft(n.Data, " \t\r\n") != n.Data {
				space()
			}
			cur.WriteString(t)
			if strings.TrimRight(n.Data, " \t\r\n") != n.Data {
				space()
			}
			return
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Svg, atom.Nav, atom.Iframe, atom.Head:
				if n.DataAtom == atom.Head {
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						if c.DataAtom == atom.Title && c.FirstChild != nil {
							title = strings.TrimSpace(c.FirstChild.Data)
						}
					}
				}
				return
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				flush()
				level := int(n.Data[1] - '0')
				path[level-1] = strings.Join(strings.Fields(textOf(n)), " ")
				for i := level; i < len(path); i++ {
					path[i] = ""
				}
				heading = headingPath()
				return
			case atom.Br:
				cur.WriteByte('\n')
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && isBlock(n.DataAtom) {
			cur.WriteString("\n\n")
		} else if n.Type == html.ElementNode && (n.DataAtom == atom.Td || n.DataAtom == atom.Th) {
			cur.WriteString("\t")
		}
	}
	walk(doc)
	flush()
	if len(out) > 0 && out[0].Heading == "" && title != "" {
		out[0].Heading = title
	}
	return out, nil
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return b.String()
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Li, atom.Ul, atom.Ol, atom.Tr, atom.Table, atom.Section, atom.Article,
		atom.Blockquote, atom.Pre, atom.Header, atom.Footer, atom.Main, atom.Aside, atom.Dd, atom.Dt,
		atom.Figcaption, atom.Figure, atom.Hr, atom.Address, atom.Form, atom.Fieldset, atom.Caption:
		return true
	}
	return false
}
