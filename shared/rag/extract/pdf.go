package extract

import (
	"bytes"
	"fmt"
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
		text, err := p.GetPlainText(nil)
		if err != nil {
			return nil, fmt.Errorf("%w: pdf page %d: %v", ErrCorrupt, i, err)
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		secs = append(secs, Section{Text: text, Page: i})
	}
	return secs, nil
}
