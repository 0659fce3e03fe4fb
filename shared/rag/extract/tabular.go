package extract

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// extractCSV renders every record as "column: value" pairs on one line, so each row stays
// self-describing after chunking.
func extractCSV(data []byte) ([]Section, error) {
	s, err := decodeUTF8(data)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(s))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: csv: %v", ErrCorrupt, err)
	}
	var b strings.Builder
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: csv: %v", ErrCorrupt, err)
		}
		var parts []string
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			name := "column " + strconv.Itoa(i+1)
			if i < len(header) && strings.TrimSpace(header[i]) != "" {
				name = strings.TrimSpace(header[i])
			}
			parts = append(parts, name+": "+v)
		}
		if len(parts) > 0 {
			b.WriteString(strings.Join(parts, "; ") + "\n")
		}
	}
	if b.Len() == 0 {
		// A header-only file still says something.
		b.WriteString(strings.Join(header, "; "))
	}
	return []Section{{Text: b.String()}}, nil
}

// extractJSON flattens a JSON document (or JSON Lines) into "path: value" lines; each
// element of a top-level array (or each line) becomes its own paragraph.
func extractJSON(data []byte) ([]Section, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var b strings.Builder
	n := 0
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: json: %v", ErrCorrupt, err)
		}
		n++
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				flattenJSON(&b, "", e)
				b.WriteString("\n")
			}
			continue
		}
		flattenJSON(&b, "", v)
		b.WriteString("\n")
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: json: no value", ErrCorrupt)
	}
	return []Section{{Text: b.String()}}, nil
}

func flattenJSON(b *strings.Builder, prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flattenJSON(b, p, x[k])
		}
	case []any:
		for i, e := range x {
			flattenJSON(b, prefix+"["+strconv.Itoa(i)+"]", e)
		}
	case nil:
	default:
		s := fmt.Sprint(x)
		if prefix == "" {
			b.WriteString(s + "\n")
			return
		}
		b.WriteString(prefix + ": " + s + "\n")
	}
}
