package eval

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestValidSchedule(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"rate(1 day)": true, "rate(5 minutes)": true, "rate(1 hours)": false, "rate(2 day)": false, "rate(0 minutes)": false,
		"cron(0 12 * * ? *)": true, "cron(0/15 * * * ? *)": true, "cron(0 12 * * ?)": false, "at(2026-11-20T13:00:00)": true,
		"every day": false, "": false,
	}
	for expr, ok := range cases {
		t.Run(expr, func(t *testing.T) {
			if err := ValidSchedule(expr); (err == nil) != ok {
				t.Fatalf("ValidSchedule(%q) = %v, want ok=%v", expr, err, ok)
			}
		})
	}
}

func TestSuiteValidate(t *testing.T) {
	t.Parallel()
	base := func() Suite {
		return Suite{Tenant: "acme", ID: "qa", Dataset: Dataset{Items: []Item{{ID: "1", Input: "q", References: []string{"a"}}}}, Target: TargetSpec{Model: "m"}}
	}
	cases := []struct {
		name   string
		mutate func(*Suite)
		errSub string
	}{
		{"valid", func(*Suite) {}, ""},
		{"bad tenant", func(s *Suite) { s.Tenant = "a b" }, "tenant"},
		{"no model", func(s *Suite) { s.Target.Model = "" }, "target.model"},
		{"both dataset forms", func(s *Suite) { s.Dataset.URI = "blob://x" }, "exactly one"},
		{"item without id", func(s *Suite) { s.Dataset.Items[0].ID = "" }, "id is required"},
		{"item without prompt", func(s *Suite) { s.Dataset.Items[0].Input = "" }, "needs input"},
		{"duplicate ids", func(s *Suite) { s.Dataset.Items = append(s.Dataset.Items, s.Dataset.Items[0]) }, "duplicate"},
		{"unknown metric", func(s *Suite) { s.Metrics = []string{"meteor"} }, "unknown metric"},
		{"judge metric listed", func(s *Suite) { s.Metrics = []string{"judge_correctness"} }, "judge.rubrics"},
		{"unknown rubric", func(s *Suite) { s.Judge = &JudgeSpec{Model: "j", Rubrics: []string{"style"}} }, "rubric"},
		{"threshold on unknown metric", func(s *Suite) { s.Thresholds = map[string]float64{"rouge2": 0.5} }, "threshold"},
		{"bad schedule", func(s *Suite) { s.Schedule = "daily" }, "schedule"},
		{"fixed baseline without run", func(s *Suite) { s.Baseline.Mode = BaselineFixed }, "run_id"},
		{"negative tolerance", func(s *Suite) { s.Baseline.Tolerances = map[string]float64{"f1": -1} }, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base()
			c.mutate(&s)
			err := s.Validate()
			if c.errSub == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.errSub) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, c.errSub)
			}
		})
	}
	s := base()
	s.Judge = &JudgeSpec{Model: "j"}
	if err := s.Validate(); err != nil || len(s.Judge.Rubrics) != 5 || s.Baseline.Mode != BaselinePrevious {
		t.Fatalf("defaults: %v %+v %+v", err, s.Judge, s.Baseline)
	}
	if got := s.EffectiveMetrics(); len(got) != 9 || got[4] != "judge_correctness" {
		t.Fatalf("effective metrics %v", got)
	}
}

func TestCompareDirectionAndTolerance(t *testing.T) {
	t.Parallel()
	base := map[string]float64{"f1": 80, "rougeL": 0.5, "judge_harmfulness": 1.2, "judge_correctness": 4, "bleu": 30}
	cur := map[string]float64{"f1": 79.5, "rougeL": 0.48, "judge_harmfulness": 1.5, "judge_correctness": 4.2, "bleu": 25, "exact_match": 10}
	regs := compare(BaselinePolicy{Tolerances: map[string]float64{"bleu": 10}}, base, cur)
	got := map[string]Regression{}
	for _, r := range regs {
		got[r.Metric] = r
	}
	if len(got) != 2 {
		t.Fatalf("regressions %+v", regs)
	}
	if r := got["rougeL"]; math.Abs(r.Delta+0.02) > 1e-12 || r.Tolerance != 0.01 {
		t.Errorf("rougeL %+v", r)
	}
	if r := got["judge_harmfulness"]; math.Abs(r.Delta-0.3) > 1e-12 {
		t.Errorf("harmfulness rising must regress: %+v", r)
	}
}

func TestParseJSONLAndBlobKeys(t *testing.T) {
	t.Parallel()
	items, err := ParseJSONL(strings.NewReader("{\"id\":\"a\",\"input\":\"q\",\"references\":[\"x\"]}\n\n{\"id\":\"b\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"output\":\"\"}\n"))
	if err != nil || len(items) != 2 || items[1].Output == nil || *items[1].Output != "" {
		t.Fatalf("items %+v, %v", items, err)
	}
	for _, bad := range []string{"", "{\"id\":\"a\"}\n", "{\"id\":\"a\",\"input\":\"q\"}\n{\"id\":\"a\",\"input\":\"q\"}\n", "not json\n"} {
		if _, err := ParseJSONL(strings.NewReader(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseJSONL(%q) err = %v", bad, err)
		}
	}
	keys := map[string]string{"blob://d/x.jsonl": "d/x.jsonl", "s3://bucket/d/x.jsonl": "d/x.jsonl", "d/x.jsonl": "d/x.jsonl"}
	for uri, want := range keys {
		if got, err := BlobKeyOf(uri); err != nil || got != want {
			t.Errorf("BlobKeyOf(%q) = %q, %v", uri, got, err)
		}
	}
	for _, bad := range []string{"https://x/y", "s3://bucket", "blob://../etc"} {
		if _, err := BlobKeyOf(bad); err == nil {
			t.Errorf("BlobKeyOf(%q) accepted", bad)
		}
	}
}

func TestBuildRequest(t *testing.T) {
	t.Parallel()
	it := &Item{ID: "1", Input: "Who?"}
	req := BuildRequest(TargetSpec{Model: "m", System: "Be brief.", MaxTokens: 64}, it, []string{"Rollo ruled.", "Paris is big."})
	if len(req.Messages) != 2 || req.Messages[0].Role != "system" || *req.MaxTokens != 64 {
		t.Fatalf("req %+v", req)
	}
	want := "Context:\n[1] Rollo ruled.\n\n[2] Paris is big.\n\nQuestion: Who?"
	if got := req.Messages[1].Content.String(); got != want {
		t.Fatalf("prompt %q, want %q", got, want)
	}
	req = BuildRequest(TargetSpec{Model: "m", PromptTemplate: "Q: {{input}} C: {{context}}"}, it, []string{"one"})
	if got := req.Messages[0].Content.String(); got != "Q: Who? C: one" {
		t.Fatalf("templated prompt %q", got)
	}
	if got := BuildRequest(TargetSpec{Model: "m"}, it, nil).Messages[0].Content.String(); got != "Who?" {
		t.Fatalf("bare prompt %q", got)
	}
}

func TestItemJSONShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		want     Item
	}{
		{"plinth", `{"id":"1","input":"q","references":["a","b"],"contexts":["c"],"output":"o"}`,
			Item{ID: "1", Input: "q", References: []string{"a", "b"}, Contexts: []string{"c"}, Output: ptr("o")}},
		{"single reference string", `{"id":"2","input":"q","references":"a"}`, Item{ID: "2", Input: "q", References: []string{"a"}}},
		{"context objects", `{"id":"3","input":"q","contexts":[{"text":"x","score":0.9},{"content":"y"}]}`,
			Item{ID: "3", Input: "q", Contexts: []string{"x", "y"}}},
		{"bedrock byo", `{"prompt":"q","referenceResponse":"a","category":"geo","modelResponses":[{"response":"o","modelIdentifier":"m"}]}`,
			Item{Input: "q", References: []string{"a"}, Output: ptr("o")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got Item
			if err := json.Unmarshal([]byte(c.in), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
	var it Item
	if err := json.Unmarshal([]byte(`{"id":"x","contexts":[1]}`), &it); err == nil {
		t.Fatal("numeric context accepted")
	}
}
