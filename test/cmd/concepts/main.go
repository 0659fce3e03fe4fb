// Command concepts writes shared/guardrail/textnorm/concepts.txt.gz, the word-to-concept
// table the guardrail's classifiers and topic matcher use to see that "guidance" and
// "instruction", or "earlier" and "previous", speak of the same thing. For each lemma of
// WordNet 3.0 (Debian package wordnet-base, /usr/share/wordnet) that is also a word of the
// SCOWL list in shared/guardrail/pii/data/english.txt.gz, it takes the most frequent sense
// of each part of speech and records that sense's broader concept: the first hypernym of a
// noun or verb sense, the head adjective of a satellite adjective (else the sense itself).
// The same WordNet files give the same table byte for byte.
//
//	apt-get install wordnet-base && go run ./test/cmd/concepts [-wordnet /usr/share/wordnet]
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	dir := flag.String("wordnet", "/usr/share/wordnet", "WordNet 3.0 dictionary directory")
	words := flag.String("words", "shared/guardrail/pii/data/english.txt.gz", "gzip word list limiting the table")
	out := flag.String("out", "shared/guardrail/textnorm/concepts.txt.gz", "table to write")
	meaning := flag.String("meaning", "shared/guardrail/textnorm/meaning.txt.gz", "meaning table to write")
	flag.Parse()
	err := run(*dir, *words, *out)
	if err == nil {
		var vocab map[string]bool
		if vocab, err = readVocab(*words); err == nil {
			err = writeMeaning(*dir, vocab, *meaning)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// pointers reads a data file: synset offset → its first pointer target for symbol sym.
func pointers(path, sym string) (map[string]string, map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	target := map[string]string{}
	satellite := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "  ") {
			continue // licence header
		}
		if i := strings.Index(line, " | "); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		off, ssType := f[0], f[2]
		satellite[off] = ssType == "s"
		wc, err := strconv.ParseInt(f[3], 16, 32)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %q: %w", path, off, err)
		}
		k := 4 + 2*int(wc)
		if k >= len(f) {
			continue
		}
		pc, err := strconv.Atoi(f[k])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %q: %w", path, off, err)
		}
		for p := 0; p < pc; p++ {
			b := k + 1 + 4*p
			if b+2 < len(f) && f[b] == sym {
				target[off] = f[b+1]
				break
			}
		}
	}
	return target, satellite, sc.Err()
}

func run(dir, wordsPath, out string) error {
	vocab, err := readVocab(wordsPath)
	if err != nil {
		return err
	}
	concepts := map[string][]string{}
	for _, pos := range []struct{ name, letter, sym string }{{"noun", "n", "@"}, {"verb", "v", "@"}, {"adj", "a", "&"}} {
		target, satellite, err := pointers(filepath.Join(dir, "data."+pos.name), pos.sym)
		if err != nil {
			return err
		}
		f, err := os.Open(filepath.Join(dir, "index."+pos.name))
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "  ") {
				continue
			}
			fl := strings.Fields(line)
			if len(fl) < 4 || !vocab[fl[0]] {
				continue
			}
			n, err := strconv.Atoi(fl[2])
			if err != nil || n < 1 || n > len(fl) {
				continue
			}
			first := fl[len(fl)-n] // offsets are listed most frequent sense first
			c := first
			switch {
			case pos.letter != "a":
				if t, ok := target[first]; ok {
					c = t
				}
			case satellite[first]:
				if t, ok := target[first]; ok {
					c = t
				}
			}
			concepts[fl[0]] = append(concepts[fl[0]], pos.letter+c)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(concepts))
	for w := range concepts {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	for _, w := range keys {
		fmt.Fprintf(gz, "%s\t%s\n", w, strings.Join(concepts[w], " "))
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("%d words with concepts; wrote %s (%d bytes)\n", len(keys), out, buf.Len())
	return nil
}

// readVocab reads a gzip word list, one word a line.
func readVocab(path string) (map[string]bool, error) {
	vocab := map[string]bool{}
	wf, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer wf.Close()
	zr, err := gzip.NewReader(wf)
	if err != nil {
		return nil, err
	}
	ws := bufio.NewScanner(zr)
	for ws.Scan() {
		vocab[strings.TrimSpace(ws.Text())] = true
	}
	return vocab, ws.Err()
}
