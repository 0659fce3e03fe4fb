package extract

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const maxDOCXPart = 64 << 20

// extractDOCX reads word/document.xml: paragraphs become lines, "Heading N" and "Title"
// styles start sections, and explicit or last-rendered page breaks advance the page number.
func extractDOCX(data []byte) ([]Section, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: docx: %v", ErrCorrupt, err)
	}
	var doc *zip.File
	for _, f := range zr.File {
		if f.Name == "word/document.xml" {
			doc = f
		}
	}
	if doc == nil {
		return nil, fmt.Errorf("%w: docx: no word/document.xml part", ErrCorrupt)
	}
	rc, err := doc.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: docx: %v", ErrCorrupt, err)
	}
	defer rc.Close()
	dec := xml.NewDecoder(io.LimitReader(rc, maxDOCXPart))

	var (
		out     []Section
		path    [9]string
		cur     strings.Builder
		para    strings.Builder
		style   string
		inText  bool
		inPara  bool
		page    = 1
		secPage = 1
		heading string
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
	flush := func() {
		if strings.TrimSpace(cur.String()) != "" {
			out = append(out, Section{Text: cur.String(), Page: secPage, Heading: heading})
		}
		cur.Reset()
		secPage = page
	}
	breakPage := func() {
		flush()
		page++
		secPage = page
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: docx: %v", ErrCorrupt, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "p":
				inPara, style = true, ""
				para.Reset()
			case "pStyle":
				style = attr(t, "val")
			case "t":
				inText = true
			case "tab":
				para.WriteByte('\t')
			case "br", "cr":
				if attr(t, "type") == "page" {
					if strings.TrimSpace(para.String()) != "" {
						cur.WriteString(para.String() + "\n")
						para.Reset()
					}
					breakPage()
				} else {
					para.WriteByte('\n')
				}
			case "lastRenderedPageBreak":
				if strings.TrimSpace(para.String()) != "" {
					cur.WriteString(para.String() + "\n")
					para.Reset()
				}
				breakPage()
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				if !inPara {
					continue
				}
				inPara = false
				text := strings.TrimSpace(para.String())
				if lvl := headingLevel(style); lvl > 0 && text != "" {
					flush()
					path[lvl-1] = text
					for i := lvl; i < len(path); i++ {
						path[i] = ""
					}
					heading = headingPath()
					continue
				}
				cur.WriteString(para.String() + "\n\n")
			}
		case xml.CharData:
			if inText {
				para.Write(t)
			}
		}
	}
	flush()
	return out, nil
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// headingLevel maps Word's built-in heading style IDs ("Heading1", "heading 2", "Title")
// to a level, or 0 for body text.
func headingLevel(style string) int {
	s := strings.ToLower(strings.ReplaceAll(style, " ", ""))
	if s == "title" {
		return 1
	}
	if strings.HasPrefix(s, "heading") {
		if n, err := strconv.Atoi(s[len("heading"):]); err == nil && n >= 1 && n <= 9 {
			return n
		}
	}
	return 0
}
