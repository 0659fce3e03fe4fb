package extract

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzExtract hands arbitrary bytes to every extractor: each returns sections or an
// error, never panics, and finishes promptly.
func FuzzExtract(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	for _, s := range []string{"# Title\n\ntext", "<html><body><p>a<b>b</p></html>", "a,b\n1,2\n", `{"k":["v",{"n":1}]}`, "%PDF-1.4\n", "PK\x03\x04"} {
		f.Add([]byte(s))
	}
	formats := []Format{FormatText, FormatMarkdown, FormatHTML, FormatPDF, FormatDOCX, FormatCSV, FormatJSON}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range formats {
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = ExtractFormat(format, data)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s extraction of %d bytes did not finish in 10s", format, len(data))
			}
		}
		_, _ = Detect("upload", "", data)
	})
}
