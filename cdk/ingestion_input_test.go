package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/rag"
)

// renderInputTemplate does what EventBridge does with an input transformer:
// each <name> in the template becomes the JSON value at InputPathsMap[name].
func renderInputTemplate(t *testing.T, transformer map[string]any, event map[string]any) []byte {
	t.Helper()
	paths, _ := transformer["InputPathsMap"].(map[string]any)
	template, _ := transformer["InputTemplate"].(string)
	out := regexp.MustCompile(`<([A-Za-z0-9_.-]+)>`).ReplaceAllStringFunc(template, func(m string) string {
		name := m[1 : len(m)-1]
		path, ok := paths[name].(string)
		if !ok {
			t.Errorf("template uses <%s> with no input path", name)
			return "null"
		}
		var v any = event
		for _, part := range strings.Split(strings.TrimPrefix(path, "$."), ".") {
			obj, _ := v.(map[string]any)
			if v, ok = obj[part]; !ok {
				t.Errorf("input path %s is absent from the %s event", path, event["detail-type"])
				return "null"
			}
		}
		b, _ := json.Marshal(v)
		return string(b)
	})
	return []byte(out)
}

// TestIngestionInputMatchesFlow checks the documents rule's input transformer
// against real-shaped S3 events: what reaches the state machine must decode
// into the event the ingestion tasks read, for both event types.
func TestIngestionInputMatchesFlow(t *testing.T) {
	s := platform(t)
	var transformer map[string]any
	for _, r := range resources(s.raw["workflows"], "AWS::Events::Rule") {
		for _, target := range list(props(r)["Targets"]) {
			// Only the documents rule transforms its input (the Bedrock backstop rule
			// delivers the event as it is).
			if tr, ok := target.(map[string]any)["InputTransformer"].(map[string]any); ok {
				transformer = tr
			}
		}
	}
	if transformer == nil {
		t.Fatal("documents rule has no input transformer")
	}
	for _, file := range []string{"s3-object-created.json", "s3-object-deleted.json"} {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			var event map[string]any
			if err := json.Unmarshal(raw, &event); err != nil {
				t.Fatal(err)
			}
			input := renderInputTemplate(t, transformer, event)
			var got rag.ObjectEvent
			if err := json.Unmarshal(input, &got); err != nil {
				t.Fatalf("rendered input is not the flow's event: %v\n%s", err, input)
			}
			detail := event["detail"].(map[string]any)
			if got.DetailType != event["detail-type"] ||
				got.Detail.Bucket.Name != detail["bucket"].(map[string]any)["name"] ||
				got.Detail.Object.Key != detail["object"].(map[string]any)["key"] {
				t.Errorf("flow input %+v does not carry the event's type, bucket and key\n%s", got, input)
			}
		})
	}
}
