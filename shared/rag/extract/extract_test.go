package extract

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makePDF writes a minimal, valid PDF with one page per string (Helvetica, uncompressed).
func makePDF(t *testing.T, pages []string) []byte {
	t.Helper()
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n")
	n := len(pages)
	// 1 catalog, 2 pages, 3 font, then (page, content) pairs.
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	var kids []string
	for i := range pages {
		kids = append(kids, fmt.Sprintf("%d 0 R", 4+2*i))
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	for i, p := range pages {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		stream := p
		if !strings.HasPrefix(p, "BT ") {
			stream = fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", p)
		}
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// makeDOCX writes a minimal Word document with the given body XML.
func makeDOCX(t *testing.T, body string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("word/document.xml")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>%s</w:body></w:document>`, body)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func para(style, text string) string {
	s := ""
	if style != "" {
		s = `<w:pPr><w:pStyle w:val="` + style + `"/></w:pPr>`
	}
	return `<w:p>` + s + `<w:r><w:t xml:space="preserve">` + text + `</w:t></w:r></w:p>`
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExtract(t *testing.T) {
	docx := makeDOCX(t, para("Title", "Handbook")+para("", "Welcome aboard.")+para("Heading1", "Leave")+
		para("", "Twenty days per year.")+`<w:p><w:r><w:br w:type="page"/></w:r></w:p>`+para("Heading2", "Sick leave")+para("", "Unlimited with a note."))
	tests := []struct {
		name string
		file string
		data []byte
		want []Section
	}{
		{name: "txt with form feed pages", file: "sample.txt", want: []Section{
			{Text: "Plain text about lighthouses.\n\nSecond paragraph.", Page: 1},
			{Text: "Page two text.", Page: 2},
		}},
		{name: "markdown headings", file: "sample.md", want: []Section{
			{Text: "Intro text with a link and bold words.", Heading: "Guide"},
			{Text: "Run the installer.", Heading: "Guide > Install"},
			{Text: "Configure the widget.", Heading: "Guide > Setup"},
		}},
		{name: "html skips scripts and nav", file: "sample.html", want: []Section{
			{Text: "Panels convert sunlight into electricity.", Heading: "Solar power"},
			{Text: "Batteries store energy.\nFor the night.\n\none\n\ntwo", Heading: "Solar power > Storage"},
		}},
		{name: "csv rows keep column names", file: "sample.csv", want: []Section{
			{Text: "name: apple; colour: red; size: 3\nname: banana; colour: yellow"},
		}},
		{name: "json flattened", file: "sample.json", want: []Section{
			{Text: "body: Refunds within 30 days\ntags[0]: billing\ntags[1]: policy\ntitle: Refund policy\n\nbody: Ships in 2 days\ntitle: Shipping"},
		}},
		{name: "pdf pages", file: "doc.pdf", data: makePDF(t, []string{"First page about tides.", "Second page about moons."}), want: []Section{
			{Text: "First page about tides.", Page: 1},
			{Text: "Second page about moons.", Page: 2},
		}},
		{name: "pdf words spaced by pen moves and lines by baselines", file: "kerned.pdf", data: makePDF(t, []string{
			"BT /F1 12 Tf 72 720 Td [(Tidal) -500 (power) -500 (plants)] TJ 0 -14 Td (use the moon.) Tj 0 -40 Td (New paragraph.) Tj ET",
		}), want: []Section{
			{Text: "Tidal power plants\nuse the moon.\n\nNew paragraph.", Page: 1},
		}},
		{name: "docx headings and page breaks", file: "doc.docx", data: docx, want: []Section{
			{Text: "Welcome aboard.", Page: 1, Heading: "Handbook"},
			{Text: "Twenty days per year.", Page: 1, Heading: "Leave"},
			{Text: "Unlimited with a note.", Page: 2, Heading: "Leave > Sick leave"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if data == nil {
				data = readFixture(t, tc.file)
			}
			got, err := Extract(tc.file, "", data)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d sections %+v, want %d %+v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("section %d = %#v, want %#v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		ct   string
		data []byte
		want error
	}{
		{name: "unsupported extension", file: "slides.pptx", data: []byte("x"), want: ErrUnsupported},
		{name: "binary without extension", file: "blob", data: readFixture(t, "garbage.bin"), want: ErrUnsupported},
		{name: "truncated pdf", file: "a.pdf", data: makePDF(t, []string{"hello"})[:60], want: ErrCorrupt},
		{name: "not a pdf", file: "a.pdf", data: []byte("hello"), want: ErrCorrupt},
		{name: "docx not a zip", file: "a.docx", data: []byte("not a zip"), want: ErrCorrupt},
		{name: "docx without document part", file: "a.docx", data: func() []byte {
			var b bytes.Buffer
			zw := zip.NewWriter(&b)
			_, _ = zw.Create("other.xml")
			_ = zw.Close()
			return b.Bytes()
		}(), want: ErrCorrupt},
		{name: "bad json", file: "a.json", data: []byte(`{"a":`), want: ErrCorrupt},
		{name: "empty text", file: "a.txt", data: []byte(" \n\n "), want: ErrEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Extract(tc.file, tc.ct, tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDetectByContentType(t *testing.T) {
	f, err := Detect("upload", "text/html; charset=utf-8", []byte("<p>x</p>"))
	if err != nil || f != FormatHTML {
		t.Fatalf("Detect = %q, %v; want html", f, err)
	}
	f, err = Detect("upload", "", makePDF(t, []string{"x"}))
	if err != nil || f != FormatPDF {
		t.Fatalf("Detect = %q, %v; want pdf", f, err)
	}
}
