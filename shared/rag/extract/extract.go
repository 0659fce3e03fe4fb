// Package extract turns uploaded documents (txt, md, html, pdf, docx, csv, json) into
// plain-text sections that keep the structure a chunker needs: the page a passage came
// from (for formats that have pages) and the heading it sits under.
package extract

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// ErrUnsupported means the document's format is not one the extractor reads.
var ErrUnsupported = errors.New("extract: unsupported document format")

// ErrCorrupt means the document claims a supported format but cannot be parsed.
var ErrCorrupt = errors.New("extract: corrupt document")

// ErrEmpty means the document parsed but holds no text.
var ErrEmpty = errors.New("extract: document has no text")

// Section is a run of text under one heading on one page.
type Section struct {
	// Text is the plain text; paragraphs are separated by blank lines.
	Text string `json:"text"`
	// Page is the 1-based page number, or 0 when the format has no pages.
	Page int `json:"page,omitempty"`
	// Heading is the heading path the text sits under ("Intro > Scope"), or "".
	Heading string `json:"heading,omitempty"`
}

// Format names a supported document format.
type Format string

// Supported formats.
const (
	FormatText     Format = "txt"
	FormatMarkdown Format = "md"
	FormatHTML     Format = "html"
	FormatPDF      Format = "pdf"
	FormatDOCX     Format = "docx"
	FormatCSV      Format = "csv"
	FormatJSON     Format = "json"
)

// Detect picks the format from the file name's extension, then the content type, then the
// content's leading bytes. It returns ErrUnsupported when none of them names a known format.
func Detect(name, contentType string, data []byte) (Format, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".txt", ".text", ".log":
		return FormatText, nil
	case ".md", ".markdown":
		return FormatMarkdown, nil
	case ".html", ".htm", ".xhtml":
		return FormatHTML, nil
	case ".pdf":
		return FormatPDF, nil
	case ".docx":
		return FormatDOCX, nil
	case ".csv":
		return FormatCSV, nil
	case ".json", ".jsonl", ".ndjson":
		return FormatJSON, nil
	case "":
	default:
		return "", fmt.Errorf("%w: %q", ErrUnsupported, path.Ext(name))
	}
	ct := strings.ToLower(contentType)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	switch strings.TrimSpace(ct) {
	case "text/plain":
		return FormatText, nil
	case "text/markdown":
		return FormatMarkdown, nil
	case "text/html", "application/xhtml+xml":
		return FormatHTML, nil
	case "application/pdf":
		return FormatPDF, nil
	case "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
		return FormatDOCX, nil
	case "text/csv":
		return FormatCSV, nil
	case "application/json":
		return FormatJSON, nil
	}
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return FormatPDF, nil
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return FormatDOCX, nil
	case utf8.Valid(data) && !bytes.ContainsAny(data, "\x00\x01\x02\x03\x04\x05\x06\x07\x08"):
		return FormatText, nil
	}
	return "", fmt.Errorf("%w: cannot tell the format of %q", ErrUnsupported, name)
}

// Extract reads a document and returns its sections. name (with its extension) and
// contentType pick the format (see Detect).
func Extract(name, contentType string, data []byte) ([]Section, error) {
	f, err := Detect(name, contentType, data)
	if err != nil {
		return nil, err
	}
	return ExtractFormat(f, data)
}

// ExtractFormat reads a document of a known format.
func ExtractFormat(f Format, data []byte) (secs []Section, err error) {
	switch f {
	case FormatText:
		secs, err = extractText(data)
	case FormatMarkdown:
		secs, err = extractMarkdown(data)
	case FormatHTML:
		secs, err = extractHTML(data)
	case FormatPDF:
		secs, err = extractPDF(data)
	case FormatDOCX:
		secs, err = extractDOCX(data)
	case FormatCSV:
		secs, err = extractCSV(data)
	case FormatJSON:
		secs, err = extractJSON(data)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, f)
	}
	if err != nil {
		return nil, err
	}
	secs = compact(secs)
	if len(secs) == 0 {
		return nil, fmt.Errorf("%s: %w", f, ErrEmpty)
	}
	return secs, nil
}

// compact normalises whitespace and drops empty sections.
func compact(in []Section) []Section {
	out := in[:0]
	for _, s := range in {
		s.Text = normalize(s.Text)
		if s.Text == "" {
			continue
		}
		out = append(out, s)
	}
	return out
}

// normalize trims trailing spaces on every line, collapses runs of blank lines to one and
// replaces invalid UTF-8.
func normalize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	var b strings.Builder
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(strings.ReplaceAll(l, "\u00a0", " "), " \t")
		if strings.TrimSpace(l) == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			if blank > 0 {
				b.WriteString("\n\n")
			} else {
				b.WriteByte('\n')
			}
		}
		blank = 0
		b.WriteString(l)
	}
	return b.String()
}

func decodeUTF8(data []byte) (string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		// Latin-1 is the common non-UTF-8 text encoding; every byte maps to one rune.
		if bytes.IndexByte(data, 0) >= 0 {
			return "", fmt.Errorf("%w: binary content in a text document", ErrCorrupt)
		}
		r := make([]rune, len(data))
		for i, c := range data {
			r[i] = rune(c)
		}
		return string(r), nil
	}
	return string(data), nil
}

// extractText splits plain text into pages at form feeds (as pdftotext writes them).
func extractText(data []byte) ([]Section, error) {
	s, err := decodeUTF8(data)
	if err != nil {
		return nil, err
	}
	pages := strings.Split(s, "\f")
	if len(pages) == 1 {
		return []Section{{Text: s}}, nil
	}
	out := make([]Section, 0, len(pages))
	for i, p := range pages {
		out = append(out, Section{Text: p, Page: i + 1})
	}
	return out, nil
}
