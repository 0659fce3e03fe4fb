package localtune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
)

func TestTokensAndShapes(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{"Hello, world!": 4, "It cost $2.5 million.": 8, "naïve café — 10th": 4, "  \n\t": 0} {
		if got := len(tokenize(s)); got != want || CountTokens(s) != want {
			t.Errorf("%q: %d tokens (CountTokens %d), want %d", s, got, CountTokens(s), want)
		}
	}
	toks := tokenize("NASA's Paris 1990 x.")
	var shapes []shape
	for _, tk := range toks {
		shapes = append(shapes, tk.shape)
	}
	want := []shape{shapeUpper, shapePunct, shapeLower, shapeCapital, shapeDigit, shapeLower, shapePunct}
	if fmt.Sprint(shapes) != fmt.Sprint(want) {
		t.Fatalf("shapes %v, want %v", shapes, want)
	}
}

func TestAnalyseFindsTheQuestion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		prompt, question string
		wh               whType
	}{
		{"Context:\nParis is in France. It is big.\n\nQuestion: How many people live in Paris?", "Question: How many people live in Paris?", whHowMany},
		{"Paris is the capital of France. Who founded Paris?", "Who founded Paris?", whWho},
		{"When did it start?", "When did it start?", whWhen},
	}
	for _, c := range cases {
		a := analyse(c.prompt)
		got := strings.TrimSpace(c.prompt[a.toks[a.qFrom].start:])
		if got != c.question || a.wh != c.wh {
			t.Errorf("analyse(%q): question %q wh %d; want %q wh %d", c.prompt, got, a.wh, c.question, c.wh)
		}
	}
	a := analyse("Context:\nThe river flows north. Trade grew along the river banks.\n\nQuestion: Where did trade grow?")
	if a.sentOv[2] <= a.sentOv[1] {
		t.Fatalf("the second sentence shares more question words: overlaps %v", a.sentOv)
	}
}

func TestBaseCopiesTheBestSentence(t *testing.T) {
	t.Parallel()
	prompt := "Context:\nThe Normans were a people of France. Rollo led the Viking settlers in Normandy. The duchy lasted centuries.\n\nQuestion: Who led the Viking settlers?"
	got, n, cut := NewBase().Generate(prompt, 0)
	if got != "Rollo led the Viking settlers in Normandy" || cut || n != 7 {
		t.Fatalf("base answered %q (%d tokens, truncated %v)", got, n, cut)
	}
	if _, _, cut := NewBase().Generate(prompt, 3); !cut {
		t.Fatal("a 3-token limit must truncate")
	}
}

func TestHyperparameterBounds(t *testing.T) {
	t.Parallel()
	ok := DefaultHyperparameters()
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*Hyperparameters){
		func(h *Hyperparameters) { h.EpochCount = 0 },
		func(h *Hyperparameters) { h.EpochCount = 21 },
		func(h *Hyperparameters) { h.BatchSize = 257 },
		func(h *Hyperparameters) { h.LearningRate = 2 },
		func(h *Hyperparameters) { h.LearningRate = 0 },
		func(h *Hyperparameters) { h.LearningRateWarmupSteps = -1 },
	} {
		h := ok
		bad(&h)
		if err := h.Validate(); !errors.Is(err, ErrInvalidHyperparameters) {
			t.Errorf("%+v: want ErrInvalidHyperparameters, got %v", h, err)
		}
	}
}

// sentiment is a task the copy mechanism cannot solve: the label never appears in the
// prompt, so the model must learn to generate it from the prompt's words.
func sentiment() (train, test []Example) {
	pos := []string{"wonderful", "great", "delightful", "superb", "lovely"}
	neg := []string{"awful", "terrible", "dreadful", "horrible", "poor"}
	things := []string{"food", "service", "room", "view", "music", "staff"}
	for i, th := range things {
		for j := range pos {
			p := Example{Prompt: fmt.Sprintf("The %s was %s.", th, pos[j]), Completion: "positive"}
			n := Example{Prompt: fmt.Sprintf("The %s was %s.", th, neg[j]), Completion: "negative"}
			if (i+j)%4 == 0 {
				test = append(test, p, n)
			} else {
				train = append(train, p, n)
			}
		}
	}
	return train, test
}

func TestTrainLearnsToGenerateLabels(t *testing.T) {
	t.Parallel()
	train, test := sentiment()
	hp := DefaultHyperparameters()
	hp.EpochCount = 10
	var steps, epochs int
	var firstVal, lastVal float64
	m, rep, err := Train(context.Background(), NewBase(), train, hp, WithValidation(test), WithModelID("ft:local-tune:t:sent:1"),
		WithStepHook(func(StepMetric) { steps++ }),
		WithEpochHook(func(epoch int, _ float64, vm *ValidationMetric) {
			epochs++
			if epoch == 1 {
				firstVal = vm.ValidationLoss
			}
			lastVal = vm.ValidationLoss
		}))
	if err != nil {
		t.Fatal(err)
	}
	if steps != len(rep.Steps) || epochs != 10 || len(rep.Validation) != 10 {
		t.Fatalf("hooks saw %d steps and %d epochs; report has %d steps, %d validation rows", steps, epochs, len(rep.Steps), len(rep.Validation))
	}
	if lastVal >= firstVal {
		t.Fatalf("validation loss did not fall: %.3f → %.3f", firstVal, lastVal)
	}
	correct := 0
	for _, ex := range test {
		if out, _, _ := m.Generate(ex.Prompt, 0); out == ex.Completion {
			correct++
		}
	}
	if correct < len(test)*8/10 {
		t.Fatalf("tuned model labelled %d of %d unseen reviews correctly", correct, len(test))
	}
	if out, _, _ := NewBase().Generate(test[0].Prompt, 0); out == test[0].Completion {
		t.Fatal("the base model cannot know the label")
	}
	if m.Info.ID != "ft:local-tune:t:sent:1" || m.Info.Base != BaseModelID || m.Info.TrainedTokens != rep.TrainedTokens || rep.TrainedTokens == 0 {
		t.Fatalf("info %+v, report tokens %d", m.Info, rep.TrainedTokens)
	}
}

func TestContinuedPreTrainingLearnsWordOrder(t *testing.T) {
	t.Parallel()
	var ex []Example
	for i := 0; i < 20; i++ {
		ex = append(ex, Example{Completion: "plinth routes every request through one gateway"})
	}
	m, _, err := Train(context.Background(), NewBase(), ex, DefaultHyperparameters())
	if err != nil {
		t.Fatal(err)
	}
	if out, _, _ := m.Generate("", 0); out != "plinth routes every request through one gateway" {
		t.Fatalf("generated %q", out)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	train, test := sentiment()
	m, _, err := Train(context.Background(), NewBase(), train, DefaultHyperparameters(), WithModelID("m1"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	saved := buf.Bytes()
	back, err := Load(bytes.NewReader(saved))
	if err != nil {
		t.Fatal(err)
	}
	if back.Info != m.Info {
		t.Fatalf("info %+v, want %+v", back.Info, m.Info)
	}
	for _, ex := range append(test, Example{Prompt: "Context:\nA b c. D e f.\n\nQuestion: What is d?"}) {
		a, _, _ := m.Generate(ex.Prompt, 0)
		b, _, _ := back.Generate(ex.Prompt, 0)
		if a != b {
			t.Fatalf("%q: %q before saving, %q after loading", ex.Prompt, a, b)
		}
	}
	for _, corrupt := range [][]byte{nil, []byte("nonsense"), saved[:len(saved)-3], append([]byte(magic), 0xff, 0xff, 0xff, 0x7f)} {
		if _, err := Load(bytes.NewReader(corrupt)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("loading %d corrupt bytes: want ErrCorrupt, got %v", len(corrupt), err)
		}
	}
}

func TestTrainStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	train, _ := sentiment()
	if _, _, err := Train(ctx, NewBase(), train, DefaultHyperparameters()); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if _, _, err := Train(context.Background(), NewBase(), nil, DefaultHyperparameters()); !errors.Is(err, ErrNoExamples) {
		t.Fatalf("want ErrNoExamples, got %v", err)
	}
}

func TestChatServesTheModel(t *testing.T) {
	t.Parallel()
	chat := NewChat(NewBase(), BaseModelID)
	prompt := "Context:\nThe Normans were a people of France. Rollo led the Viking settlers in Normandy.\n\nQuestion: Who led the Viking settlers?"
	req := &provider.ChatRequest{Model: "local-tune", Messages: []provider.Message{
		{Role: "system", Content: provider.TextContent("Answer briefly.")},
		{Role: "user", Content: provider.TextContent(prompt)},
	}}
	resp, err := chat.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	text := resp.Choices[0].Message.Content.String()
	if text != "Rollo led the Viking settlers in Normandy" || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("answer %q finish %s", text, resp.Choices[0].FinishReason)
	}
	if u := resp.Usage; u.PromptTokens != CountTokens("Answer briefly.\n\n"+prompt) || u.CompletionTokens != 7 || u.TotalTokens != u.PromptTokens+7 {
		t.Fatalf("usage %+v", u)
	}
	st, err := chat.ChatStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var streamed strings.Builder
	var usage *provider.Usage
	for {
		ch, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				streamed.WriteString(*c.Delta.Content)
			}
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
	}
	if streamed.String() != text || usage == nil || usage.CompletionTokens != 7 {
		t.Fatalf("streamed %q usage %+v", streamed.String(), usage)
	}
	two := 2
	req.MaxTokens = &two
	resp, err = chat.Chat(context.Background(), req)
	if err != nil || resp.Choices[0].FinishReason != "length" || resp.Choices[0].Message.Content.String() != "Rollo led" {
		t.Fatalf("max_tokens 2: %+v %v", resp, err)
	}
	req.MaxTokens, req.Stop = nil, provider.Stop{" the"}
	if resp, err = chat.Chat(context.Background(), req); err != nil || resp.Choices[0].Message.Content.String() != "Rollo led" {
		t.Fatalf("stop: %+v %v", resp, err)
	}
	if _, err := chat.Chat(context.Background(), &provider.ChatRequest{}); err == nil {
		t.Fatal("empty messages must be refused")
	}
}

func TestMetricsFiles(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteStepMetrics(&b, []StepMetric{{Step: 1, Epoch: 1, TrainingLoss: 2.5, Perplexity: 12.182494}}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "step_number,epoch_number,training_loss,perplexity\n1,1,2.5,12.182494\n" {
		t.Fatalf("got %q", b.String())
	}
	b.Reset()
	if err := WriteValidationMetrics(&b, []ValidationMetric{{Step: 4, Epoch: 2, ValidationLoss: 1, Perplexity: 2.718282}}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "step_number,epoch_number,validation_loss,perplexity\n4,2,1,2.718282\n" {
		t.Fatalf("got %q", b.String())
	}
}
