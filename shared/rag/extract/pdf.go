package extract

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/ledongthuc/pdf"
)

// extractPDF returns one section per page with its 1-based page number. Scanned pages
// (images without a text layer) yield no text; a PDF without any text is ErrEmpty.
func extractPDF(data []byte) (secs []Section, err error) {
	defer func() {
		// The parser panics on some malformed inputs; report them as corrupt.
		if r := recover(); r != nil {
			secs, err = nil, fmt.Errorf("%w: pdf: %v", ErrCorrupt, r)
		}
	}()
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("%PDF-")) {
		return nil, fmt.Errorf("%w: pdf: missing %%PDF header", ErrCorrupt)
	}
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: pdf: %v", ErrCorrupt, err)
	}
	n := r.NumPage()
	for i := 1; i <= n; i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		text := strings.TrimSpace(layoutText(p))
		if text == "" {
			// Pages whose glyph positions cannot be followed: operators' text only.
			plain, err := p.GetPlainText(nil)
			if err != nil {
				return nil, fmt.Errorf("%w: pdf page %d: %v", ErrCorrupt, i, err)
			}
			text = strings.TrimSpace(plain)
		}
		if text == "" {
			continue
		}
		secs = append(secs, Section{Text: text, Page: i})
	}
	return secs, nil
}

// layoutText rebuilds a page's text from positioned glyphs: PDFs often separate words by
// moving the pen (TJ offsets, absolute positioning) rather than with space characters, so a
// horizontal gap wider than a fifth of the font size becomes a space, a drop to a new
// baseline a line break, and a drop of more than about two lines a paragraph break.
func layoutText(p pdf.Page) (out string) {
	defer func() {
		if recover() != nil {
			out = ""
		}
	}()
	glyphs := p.Content().Text
	var b strings.Builder
	var prev *pdf.Text
	for i := range glyphs {
		g := &glyphs[i]
		if g.S == "" || g.S == "\n" || g.S == "\r" {
			continue // line breaks come from the baselines below
		}
		if prev != nil {
			size := math.Max(math.Max(prev.FontSize, g.FontSize), 1)
			dy := prev.Y - g.Y
			switch {
			case math.Abs(dy) > size*0.5 || g.X < prev.X-size:
				if dy > size*2.2 {
					b.WriteString("\n\n")
				} else {
					b.WriteByte('\n')
				}
			case g.X-(prev.X+prev.W) > size*0.2 && !endsSpace(&b) && g.S != " ":
				b.WriteByte(' ')
			}
		}
		b.WriteString(g.S)
		prev = g
	}
	return b.String()
}

func endsSpace(b *strings.Builder) bool {
	s := b.String()
	return len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\n')
}
