package customize

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/plinth-ai/plinth/shared/tokens"
)

// Issue is one problem found in a dataset. Line is 1-based; 0 means the whole file.
type Issue struct {
	Line     int    `json:"line"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

// Severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// PIIReport summarises the PII scan of a dataset.
type PIIReport struct {
	// Findings counts findings by Bedrock PII type ("EMAIL": 3), never the text.
	Findings       map[string]int `json:"findings,omitempty"`
	MaskedRecords  int            `json:"masked_records"`
	BlockedRecords int            `json:"blocked_records"`
}

// Report is the outcome of validating one dataset file.
type Report struct {
	Format           Format `json:"format,omitempty"`
	Lines            int    `json:"lines"`
	Records          int    `json:"records"`
	Bytes            int64  `json:"bytes"`
	SHA256           string `json:"sha256"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	// MaxRecordTokens is the largest record's prompt plus completion tokens.
	MaxRecordTokens int        `json:"max_record_tokens"`
	Errors          int        `json:"errors"`
	Warnings        int        `json:"warnings"`
	Duplicates      int        `json:"duplicates"`
	Overlaps        int        `json:"overlaps"`
	PII             *PIIReport `json:"pii,omitempty"`
	// Issues lists the first problems found, errors and warnings in line order.
	Issues []Issue `json:"issues,omitempty"`
	// hashes are the accepted records' content hashes → line, for overlap checks.
	hashes map[uint64]int
}

// Tokens is the dataset's total token count.
func (r *Report) Tokens() int64 { return r.PromptTokens + r.CompletionTokens }

// FirstError returns the first error, if any: an error about the whole file before
// those of single lines.
func (r *Report) FirstError() (Issue, bool) {
	for _, is := range r.Issues {
		if is.Severity == SeverityError && is.Line == 0 {
			return is, true
		}
	}
	for _, is := range r.Issues {
		if is.Severity == SeverityError {
			return is, true
		}
	}
	return Issue{}, false
}

// Err returns nil for a valid dataset, else ErrInvalidDataset wrapped with the first
// errors' lines and messages (up to errorsInMessage) and how many more there are; the
// report's Issues list them all.
func (r *Report) Err() error {
	first, ok := r.FirstError()
	if !ok {
		return nil
	}
	parts := []string{issueText(first)}
	for _, is := range r.Issues {
		if len(parts) == errorsInMessage {
			break
		}
		if is.Severity == SeverityError && is != first {
			parts = append(parts, issueText(is))
		}
	}
	more := ""
	if n := r.Errors - len(parts); n == 1 {
		more = " (and 1 more error)"
	} else if n > 1 {
		more = fmt.Sprintf(" (and %d more errors)", n)
	}
	return fmt.Errorf("%w: %s%s", ErrInvalidDataset, strings.Join(parts, "; "), more)
}

// errorsInMessage is how many of a dataset's errors Report.Err names.
const errorsInMessage = 3

func issueText(is Issue) string {
	if is.Line > 0 {
		return fmt.Sprintf("line %d: %s", is.Line, is.Message)
	}
	return "the file: " + is.Message
}

func (r *Report) add(line int, severity, code, format string, args ...any) {
	if severity == SeverityError {
		r.Errors++
	} else {
		r.Warnings++
	}
	if len(r.Issues) < maxIssuesPerReport {
		r.Issues = append(r.Issues, Issue{Line: line, Code: code, Severity: severity, Message: fmt.Sprintf(format, args...)})
	}
}

// PIIVerdict is the outcome of a PII scan of one record's texts.
type PIIVerdict struct {
	// Blocked means the policy forbids the record.
	Blocked bool
	// Texts are the texts after masking, in the order given; Changed says whether any
	// differs.
	Texts    []string
	Changed  bool
	Findings map[string]int
}

// PIIScanner checks training texts against a tenant's data policy (the guardrail
// engine in the platform): entities the policy blocks make a record invalid, entities
// it anonymises are masked in the data that trains the model.
type PIIScanner interface {
	ScanPII(ctx context.Context, tenant string, texts []string) (PIIVerdict, error)
}

// ValidateOptions configure Validate.
type ValidateOptions struct {
	// Format is the expected format; empty accepts the format of the first record.
	Format Format
	// Type is the customisation type (fine-tuning unless set).
	Type CustomizationType
	// Family supplies the accepted formats and limits.
	Family Family
	// MaxRecordTokens overrides the family's per-record token cap (e.g. the base
	// model's context window when the family documents none); 0 keeps the family's.
	MaxRecordTokens int
	// MaxBytes caps the file (0: no cap).
	MaxBytes int64
	// Against holds the training file's report: records found there make a validation
	// file invalid (train/validation overlap).
	Against *Report
	// PII scans every record when set, for Tenant.
	PII    PIIScanner
	Tenant string
	// Out receives every accepted record, PII-masked, one JSON object per line in the
	// dataset's own format.
	Out io.Writer
}

// Validate streams a JSONL dataset, checking every record. It returns the report and
// an error only when reading or scanning failed (an invalid dataset is a report with
// errors, see Report.Err).
func Validate(ctx context.Context, r io.Reader, opts ValidateOptions) (*Report, error) {
	if opts.Type == "" {
		opts.Type = defaultCustomizationType
	}
	v := &validator{opts: opts, rep: &Report{hashes: map[uint64]int{}, Format: opts.Format}, sum: sha256.New()}
	if opts.Type == TypeContinuedPreTraining && opts.Format == "" {
		v.rep.Format = FormatPretraining
	}
	v.limit = opts.MaxRecordTokens
	if v.limit == 0 {
		v.limit = opts.Family.Limits.MaxRecordTokens
	}
	if v.limit > 0 && opts.Family.Limits.CharsPerToken > 0 {
		v.charLimit = v.limit * opts.Family.Limits.CharsPerToken
	}
	if opts.PII != nil {
		v.rep.PII = &PIIReport{}
	}
	if opts.Out != nil {
		v.out = bufio.NewWriterSize(opts.Out, 64<<10)
	}
	if err := v.run(ctx, io.TeeReader(r, v.sum)); err != nil {
		return nil, err
	}
	v.rep.SHA256 = hex.EncodeToString(v.sum.Sum(nil))
	v.finish()
	if v.out != nil {
		if err := v.out.Flush(); err != nil {
			return nil, fmt.Errorf("write validated records: %w", err)
		}
	}
	return v.rep, nil
}

type validator struct {
	opts      ValidateOptions
	rep       *Report
	sum       hash.Hash
	limit     int
	charLimit int
	out       *bufio.Writer
}

func (v *validator) run(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 256<<10)
	maxLine := defaultMaxRecordLineBytes
	if v.charLimit > 0 {
		maxLine = max(maxLine, 4*v.charLimit+4096)
	}
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		v.rep.Bytes += int64(len(chunk))
		if v.opts.MaxBytes > 0 && v.rep.Bytes > v.opts.MaxBytes {
			v.rep.add(0, SeverityError, "file_too_large", "the file exceeds %d bytes", v.opts.MaxBytes)
			return nil
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if len(line) <= maxLine {
				line = append(line, chunk...)
			}
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return fmt.Errorf("read dataset: %w", err)
		}
		full := chunk
		if len(line) > 0 {
			line = append(line, chunk...)
			full = line
		}
		if len(full) > 0 {
			v.rep.Lines++
			if len(full) > maxLine {
				v.rep.add(v.rep.Lines, SeverityError, "too_long", "the line is longer than %d bytes", maxLine)
			} else if e := v.line(ctx, bytes.TrimRight(full, "\r\n")); e != nil {
				return e
			}
		}
		line = line[:0]
		if err != nil {
			return nil
		}
		if v.rep.Lines%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
}

var knownFields = map[string]bool{"prompt": true, "completion": true, "system": true, "messages": true, "input": true}

// line validates one line; it returns an error only when the PII scan fails.
func (v *validator) line(ctx context.Context, b []byte) error {
	n := v.rep.Lines
	if len(bytes.TrimSpace(b)) == 0 {
		v.rep.add(n, SeverityWarning, "blank_line", "blank line skipped")
		return nil
	}
	if !utf8.Valid(b) {
		v.rep.add(n, SeverityError, "invalid_utf8", "the line is not valid UTF-8")
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) || (len(b) > 0 && b[0] != '{' && json.Valid(b)) {
			v.rep.add(n, SeverityError, "not_object", "each line must be a JSON object")
		} else {
			v.rep.add(n, SeverityError, "invalid_json", "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return nil
	}
	if fields == nil {
		v.rep.add(n, SeverityError, "not_object", "each line must be a JSON object")
		return nil
	}
	raw := rawRecord{Prompt: fields["prompt"], Completion: fields["completion"], System: fields["system"], Messages: fields["messages"], Input: fields["input"]}
	for k := range fields {
		if !knownFields[k] {
			v.rep.add(n, SeverityWarning, "unknown_field", "field %q is not part of any dataset format and is dropped", k)
		}
	}
	format := raw.detect()
	if v.rep.Format == "" && format != "" {
		v.rep.Format = format
		if !v.opts.Family.AcceptsFormat(v.opts.Type, format) {
			v.rep.add(n, SeverityError, "unsupported_format", "%s records cannot train %s models with %s", format, v.opts.Family.Name, v.opts.Type)
		}
	}
	if format != "" && v.rep.Format != "" && format != v.rep.Format {
		v.rep.add(n, SeverityError, "mixed_format", "the record is in the %s format but the file is in the %s format", format, v.rep.Format)
		return nil
	}
	rec, e := raw.parse(format)
	if e != nil {
		v.rep.add(n, SeverityError, e.code, "%s", e.msg)
		return nil
	}
	return v.accept(ctx, n, &rec)
}

func (v *validator) accept(ctx context.Context, n int, rec *Record) error {
	prompt, completion := rec.PromptAndCompletion()
	pt, chars := 0, len(completion)
	for _, p := range prompt {
		pt += tokens.Count(p)
		chars += len(p)
	}
	ct := tokens.Count(completion)
	if v.limit > 0 && pt+ct > v.limit {
		v.rep.add(n, SeverityError, "too_long", "the record has %d tokens; %s models take at most %d per record", pt+ct, v.opts.Family.Name, v.limit)
		return nil
	}
	if v.charLimit > 0 && chars > v.charLimit {
		v.rep.add(n, SeverityError, "too_long", "the record has %d characters; %s models take at most %d per record", chars, v.opts.Family.Name, v.charLimit)
		return nil
	}
	h := contentHash(rec)
	if first, dup := v.rep.hashes[h]; dup {
		v.rep.Duplicates++
		v.rep.add(n, SeverityError, "duplicate", "the record duplicates line %d", first)
		return nil
	}
	if v.opts.Against != nil {
		if at, ok := v.opts.Against.hashes[h]; ok {
			v.rep.Overlaps++
			v.rep.add(n, SeverityError, "train_validation_overlap", "the record is also line %d of the training file", at)
			return nil
		}
	}
	if v.opts.PII != nil {
		texts := rec.texts()
		verdict, err := v.opts.PII.ScanPII(ctx, v.opts.Tenant, texts)
		if err != nil {
			return fmt.Errorf("scan line %d for PII: %w", n, err)
		}
		for k, c := range verdict.Findings {
			if v.rep.PII.Findings == nil {
				v.rep.PII.Findings = map[string]int{}
			}
			v.rep.PII.Findings[k] += c
		}
		if verdict.Blocked {
			v.rep.PII.BlockedRecords++
			v.rep.add(n, SeverityError, "pii_blocked", "the record contains personal data the tenant's policy blocks (%s)", findingList(verdict.Findings))
			return nil
		}
		if verdict.Changed && len(verdict.Texts) == len(texts) {
			v.rep.PII.MaskedRecords++
			rec.setTexts(verdict.Texts)
		}
	}
	v.rep.hashes[h] = n
	v.rep.Records++
	v.rep.PromptTokens += int64(pt)
	v.rep.CompletionTokens += int64(ct)
	v.rep.MaxRecordTokens = max(v.rep.MaxRecordTokens, pt+ct)
	if v.out != nil {
		b, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encode line %d: %w", n, err)
		}
		_, _ = v.out.Write(b)
		_ = v.out.WriteByte('\n')
	}
	return nil
}

func (v *validator) finish() {
	lim := v.opts.Family.Limits
	switch {
	case v.rep.Records == 0 && v.rep.Errors == 0:
		v.rep.add(0, SeverityError, "empty_file", "the file holds no records")
	case lim.MinRecords > 0 && v.rep.Records < lim.MinRecords && v.rep.Errors == 0:
		v.rep.add(0, SeverityError, "too_few_records", "the file has %d valid records; %s models need at least %d", v.rep.Records, v.opts.Family.Name, lim.MinRecords)
	case lim.MaxRecords > 0 && v.rep.Records > lim.MaxRecords:
		v.rep.add(0, SeverityError, "too_many_records", "the file has %d records; %s models take at most %d", v.rep.Records, v.opts.Family.Name, lim.MaxRecords)
	}
}

// contentHash identifies a record by its texts (FNV-1a over the texts, separated).
func contentHash(rec *Record) uint64 {
	h := uint64(14695981039346656037)
	for _, t := range rec.texts() {
		for i := 0; i < len(t); i++ {
			h ^= uint64(t[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	return h
}

func findingList(m map[string]int) string {
	if len(m) == 0 {
		return "policy match"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}
