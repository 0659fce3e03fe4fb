// Package builtin serves the platform's own capabilities as tools of the tool hub:
// knowledge-base retrieval, a guardrail check and evaluation runs. Each acts for the
// calling tenant only, through ports the platform wires to its services.
package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/plinth-ai/plinth/shared/toolhub"
)

// Ports are the platform services the built-in tools use. Each takes the caller's tenant
// and returns a JSON answer; a nil port leaves its tools out.
type Ports struct {
	// Retrieve searches a knowledge base of the tenant.
	Retrieve func(ctx context.Context, tenant, kb, query string, topK int) (any, error)
	// Guard applies the tenant's guardrail policy to a text ("INPUT" or "OUTPUT").
	Guard func(ctx context.Context, tenant, source, text string) (any, error)
	// StartEvaluation starts a run of one of the tenant's evaluation suites.
	StartEvaluation func(ctx context.Context, tenant, suite string) (any, error)
	// EvaluationRun reads one of the tenant's evaluation runs.
	EvaluationRun func(ctx context.Context, tenant, run string) (any, error)
}

// ErrForeign is what ports return for another tenant's knowledge base, suite or run; the
// tool answers as if it did not exist.
var ErrForeign = errors.New("builtin: not the caller's")

// Backend serves built-in tool sets.
type Backend struct{ p Ports }

// New returns the backend.
func New(p Ports) *Backend { return &Backend{p: p} }

var _ toolhub.Backend = (*Backend)(nil)

func schema(s string) json.RawMessage { return json.RawMessage(s) }

// Tools lists a built-in set's tools.
func (b *Backend) Tools(set string) []toolhub.Tool {
	switch set {
	case toolhub.BuiltinKnowledgeBase:
		return []toolhub.Tool{{Name: "retrieve", Title: "Search a knowledge base",
			Description: "Searches one of your organisation's knowledge bases and returns the most relevant passages with their sources.",
			InputSchema: schema(`{"type":"object","properties":{"knowledge_base":{"type":"string","description":"Knowledge base ID"},"query":{"type":"string"},"top_k":{"type":"integer","minimum":1,"maximum":50,"default":5}},"required":["knowledge_base","query"]}`)}}
	case toolhub.BuiltinGuardrail:
		return []toolhub.Tool{{Name: "guardrail_check", Title: "Check a text against the guardrail policy",
			Description: "Applies your organisation's guardrail policy to a text and says whether it intervenes, with the masked text.",
			InputSchema: schema(`{"type":"object","properties":{"text":{"type":"string"},"source":{"type":"string","enum":["INPUT","OUTPUT"],"default":"INPUT"}},"required":["text"]}`)}}
	case toolhub.BuiltinEvaluation:
		return []toolhub.Tool{
			{Name: "start_evaluation_run", Title: "Start an evaluation run",
				Description: "Starts a run of one of your organisation's evaluation suites and returns its ID and status.",
				InputSchema: schema(`{"type":"object","properties":{"suite":{"type":"string","description":"Evaluation suite ID"}},"required":["suite"]}`)},
			{Name: "get_evaluation_run", Title: "Read an evaluation run",
				Description: "Returns an evaluation run's status and metrics.",
				InputSchema: schema(`{"type":"object","properties":{"run_id":{"type":"string"}},"required":["run_id"]}`)},
		}
	}
	return nil
}

// Discover implements toolhub.Backend.
func (b *Backend) Discover(_ context.Context, s *toolhub.Server, _ string) (*toolhub.Discovery, error) {
	tools := b.Tools(s.Builtin)
	if tools == nil {
		return nil, fmt.Errorf("%w: unknown built-in tool set %q", toolhub.ErrInvalid, s.Builtin)
	}
	return &toolhub.Discovery{Tools: tools}, nil
}

// Invoke implements toolhub.Backend.
func (b *Backend) Invoke(ctx context.Context, s *toolhub.Server, in *toolhub.Invocation) (json.RawMessage, error) {
	if in.Method != "tools/call" || in.Tool == nil {
		return nil, &toolhub.RPCError{Code: -32601, Message: in.Method + " is not available on built-in tools"}
	}
	if in.Caller == nil || in.Caller.Principal.TenantID == "" {
		return errorResult("Built-in tools act for a tenant; call them with a tenant's key."), nil
	}
	tenant := in.Caller.Principal.TenantID
	var p struct {
		Arguments struct {
			KnowledgeBase string `json:"knowledge_base"`
			Query         string `json:"query"`
			TopK          int    `json:"top_k"`
			Text          string `json:"text"`
			Source        string `json:"source"`
			Suite         string `json:"suite"`
			RunID         string `json:"run_id"`
		} `json:"arguments"`
	}
	if err := json.Unmarshal(in.Params, &p); err != nil {
		return errorResult("The arguments do not match the tool's schema: " + err.Error()), nil
	}
	a := p.Arguments
	var out any
	var err error
	switch in.Tool.Name {
	case "retrieve":
		if b.p.Retrieve == nil {
			return unavailable(in.Tool.Name), nil
		}
		if a.KnowledgeBase == "" || a.Query == "" {
			return errorResult("retrieve needs knowledge_base and query."), nil
		}
		if a.TopK <= 0 {
			a.TopK = 5
		}
		out, err = b.p.Retrieve(ctx, tenant, a.KnowledgeBase, a.Query, a.TopK)
	case "guardrail_check":
		if b.p.Guard == nil {
			return unavailable(in.Tool.Name), nil
		}
		if a.Text == "" {
			return errorResult("guardrail_check needs text."), nil
		}
		if a.Source == "" {
			a.Source = "INPUT"
		}
		out, err = b.p.Guard(ctx, tenant, a.Source, a.Text)
	case "start_evaluation_run":
		if b.p.StartEvaluation == nil {
			return unavailable(in.Tool.Name), nil
		}
		if a.Suite == "" {
			return errorResult("start_evaluation_run needs suite."), nil
		}
		out, err = b.p.StartEvaluation(ctx, tenant, a.Suite)
	case "get_evaluation_run":
		if b.p.EvaluationRun == nil {
			return unavailable(in.Tool.Name), nil
		}
		if a.RunID == "" {
			return errorResult("get_evaluation_run needs run_id."), nil
		}
		out, err = b.p.EvaluationRun(ctx, tenant, a.RunID)
	default:
		return errorResult("unknown built-in tool " + in.Tool.Name), nil
	}
	if err != nil {
		if errors.Is(err, ErrForeign) {
			return errorResult(fmt.Sprintf("%s: not found", in.Tool.Name)), nil
		}
		return errorResult(fmt.Sprintf("%s failed: %v", in.Tool.Name, err)), nil
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode %s result: %w", in.Tool.Name, err)
	}
	res := map[string]any{"content": []map[string]string{{"type": "text", "text": string(data)}}}
	var obj map[string]any
	if json.Unmarshal(data, &obj) == nil {
		res["structuredContent"] = obj
	}
	return json.Marshal(res)
}

func errorResult(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": msg}}, "isError": true})
	return b
}

func unavailable(tool string) json.RawMessage {
	return errorResult(tool + " is not available on this deployment of the platform.")
}
