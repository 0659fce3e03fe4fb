package customize_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/customize"
)

func family(t testing.TB, name string) customize.Family {
	t.Helper()
	for _, f := range customize.Families {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no family %s", name)
	return customize.Family{}
}

func TestValidatorReportsLineNumberedErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 5000)
	cases := []struct {
		name   string
		family string
		typ    customize.CustomizationType
		data   string
		line   int
		code   string
	}{
		{"bad JSON", "local-tune", "", "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\":\n", 2, "invalid_json"},
		{"not an object", "local-tune", "", "{\"prompt\":\"a\",\"completion\":\"b\"}\n[1,2]\n", 2, "not_object"},
		{"missing completion", "local-tune", "", "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\":\"c\"}\n", 2, "missing_field"},
		{"empty completion", "local-tune", "", "{\"prompt\":\"a\",\"completion\":\"  \"}\n", 1, "empty_completion"},
		{"wrong type", "local-tune", "", "{\"prompt\":\"a\",\"completion\":7}\n", 1, "invalid_field"},
		{"too long", "local-tune", "", "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\":\"" + long + "\",\"completion\":\"b\"}\n", 2, "too_long"},
		{"duplicate", "local-tune", "", "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\":\"c\",\"completion\":\"d\"}\n{\"prompt\":\"a\",\"completion\":\"b\"}\n", 3, "duplicate"},
		{"mixed formats", "local-tune", "", "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\"}]}\n", 2, "mixed_format"},
		{"turns out of order", "local-tune", "", "{\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"},{\"role\":\"user\",\"content\":\"y\"}]}\n", 1, "turn_order"},
		{"last turn is the user's", "local-tune", "", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\"},{\"role\":\"user\",\"content\":\"z\"}]}\n", 1, "turn_order"},
		{"one message", "local-tune", "", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}\n", 1, "too_few_messages"},
		{"unknown role", "local-tune", "", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"tool\",\"content\":\"y\"}]}\n", 1, "invalid_role"},
		{"empty assistant", "local-tune", "", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"\"}]}\n", 1, "empty_completion"},
		{"format the family does not take", "anthropic.claude-3-haiku", "", "{\"prompt\":\"a\",\"completion\":\"b\"}\n", 1, "unsupported_format"},
		{"pre-training record in fine-tuning", "amazon.titan-text", "", "{\"input\":\"some text\"}\n", 1, "unsupported_format"},
		{"fine-tuning record in pre-training", "amazon.titan-text", customize.TypeContinuedPreTraining, "{\"input\":\"text\"}\n{\"prompt\":\"a\",\"completion\":\"b\"}\n", 2, "mixed_format"},
		{"empty input", "amazon.titan-text", customize.TypeContinuedPreTraining, "{\"input\":\"\"}\n", 1, "empty_input"},
		{"invalid UTF-8", "local-tune", "", "{\"prompt\":\"a\xff\",\"completion\":\"b\"}\n", 1, "invalid_utf8"},
		{"empty file", "local-tune", "", "", 0, "empty_file"},
		{"too few records", "openai", "", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\"}]}\n", 0, "too_few_records"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := customize.Validate(context.Background(), strings.NewReader(c.data), customize.ValidateOptions{Family: family(t, c.family), Type: c.typ})
			if err != nil {
				t.Fatal(err)
			}
			first, ok := rep.FirstError()
			if !ok || first.Line != c.line || first.Code != c.code {
				t.Fatalf("first error %+v (ok %v); want line %d code %s; issues %+v", first, ok, c.line, c.code, rep.Issues)
			}
			err = rep.Err()
			want := fmt.Sprintf("line %d: ", c.line)
			if c.line == 0 {
				want = "the file: "
			}
			if !errors.Is(err, customize.ErrInvalidDataset) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Err() = %v, want it to name %q", err, want)
			}
		})
	}
}

func TestValidatorAcceptsEveryFormatAndCounts(t *testing.T) {
	t.Parallel()
	data := "{\"prompt\":\"Hello, world!\",\"completion\":\"Hi there.\",\"id\":7}\n\n" +
		"{\"prompt\":\"Second prompt\",\"completion\":\"Second answer\"}\r\n"
	var out bytes.Buffer
	rep, err := customize.Validate(context.Background(), strings.NewReader(data), customize.ValidateOptions{Family: family(t, "local-tune"), Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	// "Hello, world!" is 4 tokens and "Hi there." 3; the second record 2 and 2.
	if rep.Records != 2 || rep.Lines != 3 || rep.PromptTokens != 6 || rep.CompletionTokens != 5 || rep.MaxRecordTokens != 7 ||
		rep.Format != customize.FormatPromptCompletion || rep.Warnings != 2 || len(rep.SHA256) != 64 || rep.Bytes != int64(len(data)) {
		t.Fatalf("report %+v", rep)
	}
	if out.String() != "{\"prompt\":\"Hello, world!\",\"completion\":\"Hi there.\"}\n{\"prompt\":\"Second prompt\",\"completion\":\"Second answer\"}\n" {
		t.Fatalf("accepted records %q", out.String())
	}
	conv := `{"system":"Be brief.","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}` + "\n" +
		`{"messages":[{"role":"system","content":"Be kind."},{"role":"user","content":"Bye"},{"role":"assistant","content":"Goodbye"}]}` + "\n"
	rep, err = customize.Validate(context.Background(), strings.NewReader(conv), customize.ValidateOptions{Family: family(t, "anthropic.claude-3-haiku")})
	if err != nil || rep.Err() != nil || rep.Records != 2 || rep.Format != customize.FormatConversation {
		t.Fatalf("conversation: %+v %v %v", rep, err, rep.Err())
	}
	cpt := "{\"input\":\"Plinth is a platform.\"}\n{\"input\":\"It runs on AWS.\"}\n"
	rep, err = customize.Validate(context.Background(), strings.NewReader(cpt), customize.ValidateOptions{Family: family(t, "amazon.titan-text"), Type: customize.TypeContinuedPreTraining})
	if err != nil || rep.Err() != nil || rep.Records != 2 || rep.Format != customize.FormatPretraining || rep.PromptTokens != 0 {
		t.Fatalf("pre-training: %+v %v %v", rep, err, rep.Err())
	}
}

func TestValidatorFindsTrainValidationOverlap(t *testing.T) {
	t.Parallel()
	train := "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\":\"c\",\"completion\":\"d\"}\n"
	fam := family(t, "local-tune")
	trep, err := customize.Validate(context.Background(), strings.NewReader(train), customize.ValidateOptions{Family: fam})
	if err != nil {
		t.Fatal(err)
	}
	valid := "{\"prompt\":\"e\",\"completion\":\"f\"}\n{\"prompt\":\"c\",\"completion\":\"d\"}\n"
	vrep, err := customize.Validate(context.Background(), strings.NewReader(valid), customize.ValidateOptions{Family: fam, Against: trep})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := vrep.FirstError()
	if first.Line != 2 || first.Code != "train_validation_overlap" || !strings.Contains(first.Message, "line 2 of the training file") || vrep.Overlaps != 1 {
		t.Fatalf("%+v", vrep.Issues)
	}
}

func TestValidatorCapsFileSize(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "{\"prompt\":\"q%d\",\"completion\":\"b\"}\n", i)
	}
	data := b.String()
	rep, err := customize.Validate(context.Background(), strings.NewReader(data), customize.ValidateOptions{Family: family(t, "local-tune"), MaxBytes: 500})
	if err != nil {
		t.Fatal(err)
	}
	if first, _ := rep.FirstError(); first.Code != "file_too_large" {
		t.Fatalf("%+v", rep.Issues)
	}
}

// piiPolicy blocks records mentioning a card number and masks e-mail addresses, the
// way a guardrail policy with BLOCK and ANONYMIZE actions would.
type piiPolicy struct{ calls int }

func (p *piiPolicy) ScanPII(_ context.Context, tenant string, texts []string) (customize.PIIVerdict, error) {
	p.calls++
	v := customize.PIIVerdict{Texts: make([]string, len(texts)), Findings: map[string]int{}}
	for i, t := range texts {
		if strings.Contains(t, "4111 1111 1111 1111") {
			v.Blocked = true
			v.Findings["CREDIT_DEBIT_CARD_NUMBER"]++
		}
		if strings.Contains(t, "jane@example.com") {
			t = strings.ReplaceAll(t, "jane@example.com", "{EMAIL}")
			v.Changed = true
			v.Findings["EMAIL"]++
		}
		v.Texts[i] = t
	}
	return v, nil
}

func TestValidatorAppliesThePIIPolicy(t *testing.T) {
	t.Parallel()
	data := "{\"prompt\":\"Mail jane@example.com\",\"completion\":\"Done\"}\n" +
		"{\"prompt\":\"My card is 4111 1111 1111 1111\",\"completion\":\"Noted\"}\n" +
		"{\"prompt\":\"Nothing personal\",\"completion\":\"Fine\"}\n"
	var out bytes.Buffer
	p := &piiPolicy{}
	rep, err := customize.Validate(context.Background(), strings.NewReader(data), customize.ValidateOptions{Family: family(t, "local-tune"), PII: p, Tenant: "acme", Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := rep.FirstError()
	if first.Line != 2 || first.Code != "pii_blocked" || !strings.Contains(first.Message, "CREDIT_DEBIT_CARD_NUMBER") {
		t.Fatalf("%+v", rep.Issues)
	}
	if rep.PII.MaskedRecords != 1 || rep.PII.BlockedRecords != 1 || rep.PII.Findings["EMAIL"] != 1 || p.calls != 3 {
		t.Fatalf("pii report %+v after %d calls", rep.PII, p.calls)
	}
	if strings.Contains(out.String(), "jane@example.com") || !strings.Contains(out.String(), "Mail {EMAIL}") || strings.Contains(out.String(), "4111") {
		t.Fatalf("records written for training: %q", out.String())
	}
}

func TestFamiliesResolveHyperparameters(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		provider, model, family string
	}{
		{"local", "local-tune", "local-tune"},
		{"bedrock", "amazon.nova-lite-v1:0:300k", "amazon.nova"},
		{"bedrock", "us.amazon.nova-micro-v1:0", "amazon.nova"},
		{"bedrock", "amazon.titan-text-express-v1:0:8k", "amazon.titan-text"},
		{"bedrock", "amazon.titan-text-premier-v1:0", "amazon.titan-text-premier"},
		{"bedrock", "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k", "anthropic.claude-3-haiku"},
		{"bedrock", "meta.llama3-1-8b-instruct-v1:0:128k", "meta.llama3"},
		{"openai", "gpt-4o-mini-2024-07-18", "openai"},
	} {
		f, ok := customize.FamilyOf(c.provider, c.model)
		if !ok || f.Name != c.family {
			t.Errorf("FamilyOf(%s, %s) = %s, %v; want %s", c.provider, c.model, f.Name, ok, c.family)
		}
	}
	if _, ok := customize.FamilyOf("bedrock", "cohere.unknown"); ok {
		t.Error("an unknown Bedrock model must have no family")
	}
	nova := family(t, "amazon.nova")
	got, err := nova.Resolve(map[string]any{"epochCount": "3"}, customize.OpenAIHyperparameters{LearningRateMultiplier: 2.0})
	if err != nil || got["epochCount"] != "3" || got["learningRate"] != "2e-05" || got["learningRateWarmupSteps"] != "10" {
		t.Fatalf("nova: %v %v", got, err)
	}
	haiku := family(t, "anthropic.claude-3-haiku")
	got, err = haiku.Resolve(nil, customize.OpenAIHyperparameters{NEpochs: 3.0, BatchSize: "auto", LearningRateMultiplier: 0.5})
	if err != nil || got["epochCount"] != "3" || got["batchSize"] != "32" || got["learningRateMultiplier"] != "0.5" {
		t.Fatalf("haiku: %v %v", got, err)
	}
	for _, bad := range []struct {
		f   customize.Family
		hp  map[string]any
		oai customize.OpenAIHyperparameters
	}{
		{nova, map[string]any{"epochCount": 6}, customize.OpenAIHyperparameters{}},
		{nova, map[string]any{"batchSize": 8}, customize.OpenAIHyperparameters{}},
		{nova, map[string]any{"epochCount": 1.5}, customize.OpenAIHyperparameters{}},
		{haiku, nil, customize.OpenAIHyperparameters{BatchSize: 2.0}},
		{haiku, map[string]any{"learningRateMultiplier": "fast"}, customize.OpenAIHyperparameters{}},
		{family(t, "meta.llama3"), map[string]any{"batchSize": 2}, customize.OpenAIHyperparameters{}},
		{family(t, "amazon.titan-text"), map[string]any{"epochCount": 11}, customize.OpenAIHyperparameters{}},
	} {
		if got, err := bad.f.Resolve(bad.hp, bad.oai); !errors.Is(err, customize.ErrInvalid) {
			t.Errorf("%s %v %+v: want ErrInvalid, got %v %v", bad.f.Name, bad.hp, bad.oai, got, err)
		}
	}
}

func TestParseStepMetrics(t *testing.T) {
	t.Parallel()
	rows, err := customize.ParseStepMetrics(strings.NewReader("step_number,epoch_number,training_loss,perplexity\n1,0,2.5,12.18\n2,1,1.25,3.49\n"))
	if err != nil || len(rows) != 2 || rows[1].Step != 2 || rows[1].Epoch != 1 || rows[1].TrainingLoss != 1.25 || rows[0].Perplexity != 12.18 {
		t.Fatalf("%+v %v", rows, err)
	}
	if _, err := customize.ParseStepMetrics(strings.NewReader("step,loss\n1,2\n")); err == nil {
		t.Fatal("a file without the columns must be refused")
	}
	if _, err := customize.ParseStepMetrics(strings.NewReader("step_number,epoch_number,training_loss\n1,0,x\n")); err == nil {
		t.Fatal("a malformed number must be refused")
	}
}
