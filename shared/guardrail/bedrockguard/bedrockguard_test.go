package bedrockguard

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/plinth-ai/plinth/shared/guardrail"
)

// fakeBedrock speaks ApplyGuardrail's REST-JSON wire format:
// POST /guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply.
func fakeBedrock(t *testing.T, status int, body []byte, got *map[string]any) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /guardrail/{id}/version/{version}/apply", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "gr-abc123" || r.PathValue("version") != "3" {
			t.Errorf("path = %s", r.URL.Path)
		}
		if r.Header.Get("Authorization") == "" {
			t.Errorf("request is not signed")
		}
		b, _ := io.ReadAll(r.Body)
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("body %q: %v", b, err)
		}
		*got = m
		w.Header().Set("Content-Type", "application/json")
		if status != http.StatusOK {
			w.Header().Set("X-Amzn-Errortype", "ValidationException")
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func client(srv *httptest.Server) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   srv.Client(),
	})
}

func TestApplyGuardrailWireFormat(t *testing.T) {
	body, err := os.ReadFile("testdata/apply_response.json")
	if err != nil {
		t.Fatal(err)
	}
	var sent map[string]any
	srv := fakeBedrock(t, http.StatusOK, body, &sent)
	c := New(client(srv))
	req := guardrail.ApplyRequest{Source: guardrail.SourceOutput, Content: []guardrail.ContentBlock{
		{Text: &guardrail.TextBlock{Text: "The sky is green.", Qualifiers: []string{guardrail.QualifierGuardContent}}},
		{Text: &guardrail.TextBlock{Text: "The sky is blue.", Qualifiers: []string{guardrail.QualifierGroundingSource}}},
	}}
	resp, err := c.ApplyGuardrail(context.Background(), "gr-abc123", "3", req)
	if err != nil {
		t.Fatal(err)
	}
	// Request on the wire.
	if sent["source"] != "OUTPUT" {
		t.Errorf("source = %v", sent["source"])
	}
	content := sent["content"].([]any)
	first := content[0].(map[string]any)["text"].(map[string]any)
	if first["text"] != "The sky is green." || first["qualifiers"].([]any)[0] != "guard_content" {
		t.Errorf("content[0] = %v", first)
	}
	// Response decoded into Plinth's types.
	if resp.Action != guardrail.ActionIntervened || resp.Outputs[0].Text != "Sorry, I can't help with that." {
		t.Errorf("resp = %+v", resp)
	}
	a := resp.Assessments[0]
	if a.TopicPolicy.Topics[0].Name != "Investments" || a.ContentPolicy.Filters[0].Confidence != "HIGH" ||
		a.WordPolicy.CustomWords[0].Match != "nightingale" || a.SensitiveInformationPolicy.PiiEntities[0].Action != "ANONYMIZED" ||
		a.SensitiveInformationPolicy.Regexes[0].Name != "EMPLOYEE_ID" || a.ContextualGroundingPolicy.Filters[0].Score != 0.2 {
		t.Errorf("assessment = %+v", a)
	}
	if resp.Usage.SensitiveInformationPolicyUnits != 1 || resp.Coverage.TextCharacters.Guarded != 42 {
		t.Errorf("usage/coverage = %+v %+v", resp.Usage, resp.Coverage)
	}
}

func TestApplyGuardrailError(t *testing.T) {
	var sent map[string]any
	srv := fakeBedrock(t, http.StatusBadRequest, []byte(`{"message":"The guardrail identifier is invalid."}`), &sent)
	c := New(client(srv))
	_, err := c.ApplyGuardrail(context.Background(), "gr-abc123", "3", guardrail.ApplyRequest{Source: guardrail.SourceInput,
		Content: []guardrail.ContentBlock{{Text: &guardrail.TextBlock{Text: "hi"}}}})
	if !errors.Is(err, ErrBedrock) {
		t.Fatalf("err = %v", err)
	}
}

func TestEngineDelegates(t *testing.T) {
	body, err := os.ReadFile("testdata/apply_response.json")
	if err != nil {
		t.Fatal(err)
	}
	var sent map[string]any
	srv := fakeBedrock(t, http.StatusOK, body, &sent)
	e, err := guardrail.New(guardrail.WithDelegate(New(client(srv))))
	if err != nil {
		t.Fatal(err)
	}
	p := &guardrail.Policy{Name: "hybrid", Bedrock: &guardrail.BedrockDelegation{GuardrailIdentifier: "gr-abc123", GuardrailVersion: "3"},
		SensitiveInformationPolicyConfig: &guardrail.SensitiveInformationPolicyConfig{PiiEntitiesConfig: []guardrail.PiiEntityConfig{{Type: "EMAIL", Action: "ANONYMIZE"}}}}
	resp, err := e.Apply(context.Background(), p, guardrail.ApplyRequest{Source: guardrail.SourceInput,
		Content: []guardrail.ContentBlock{{Text: &guardrail.TextBlock{Text: "mail x@y.io"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Action != guardrail.ActionIntervened || len(resp.Assessments) != 2 || resp.Outputs[0].Text != "Sorry, I can't help with that." {
		t.Fatalf("resp = %+v", resp)
	}
	if resp.Assessments[0].SensitiveInformationPolicy.PiiEntities[0].Match != "x@y.io" {
		t.Fatalf("local assessment = %+v", resp.Assessments[0])
	}
}
