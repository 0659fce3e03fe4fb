// Package bedrockguard delegates guardrail evaluation to Amazon Bedrock Guardrails'
// ApplyGuardrail API, translating between Plinth's ApplyGuardrail-shaped types and the
// AWS SDK's. It implements guardrail.Delegate.
package bedrockguard

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/plinth-ai/plinth/shared/guardrail"
)

// ErrBedrock wraps errors returned by Bedrock.
var ErrBedrock = errors.New("bedrockguard: ApplyGuardrail failed")

// applyAPI is the one Bedrock Runtime operation this adapter needs.
type applyAPI interface {
	ApplyGuardrail(ctx context.Context, in *bedrockruntime.ApplyGuardrailInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.ApplyGuardrailOutput, error)
}

// Client calls ApplyGuardrail.
type Client struct {
	api applyAPI
}

var _ guardrail.Delegate = (*Client)(nil)

// New wraps a Bedrock Runtime client (or anything with its ApplyGuardrail method).
func New(api applyAPI) *Client {
	if api == nil {
		panic("bedrockguard.New: nil client")
	}
	return &Client{api: api}
}

// ApplyGuardrail evaluates req with the Bedrock guardrail identifier at version.
func (c *Client) ApplyGuardrail(ctx context.Context, identifier, version string, req guardrail.ApplyRequest) (guardrail.ApplyResponse, error) {
	in := &bedrockruntime.ApplyGuardrailInput{
		GuardrailIdentifier: aws.String(identifier),
		GuardrailVersion:    aws.String(version),
		Source:              types.GuardrailContentSource(req.Source),
	}
	if req.OutputScope != "" {
		in.OutputScope = types.GuardrailOutputScope(req.OutputScope)
	}
	for _, cb := range req.Content {
		if cb.Text == nil {
			continue
		}
		tb := types.GuardrailTextBlock{Text: aws.String(cb.Text.Text)}
		for _, q := range cb.Text.Qualifiers {
			tb.Qualifiers = append(tb.Qualifiers, types.GuardrailContentQualifier(q))
		}
		in.Content = append(in.Content, &types.GuardrailContentBlockMemberText{Value: tb})
	}
	out, err := c.api.ApplyGuardrail(ctx, in)
	if err != nil {
		return guardrail.ApplyResponse{}, fmt.Errorf("%w: guardrail %s version %s: %w", ErrBedrock, identifier, version, err)
	}
	return fromOutput(out), nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolv(p *bool) bool { return p != nil && *p }

func i32(p *int32) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

func f64(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func fromOutput(out *bedrockruntime.ApplyGuardrailOutput) guardrail.ApplyResponse {
	r := guardrail.ApplyResponse{Action: string(out.Action), ActionReason: str(out.ActionReason), Outputs: []guardrail.OutputText{}}
	for _, o := range out.Outputs {
		r.Outputs = append(r.Outputs, guardrail.OutputText{Text: str(o.Text)})
	}
	if u := out.Usage; u != nil {
		r.Usage = guardrail.Usage{
			TopicPolicyUnits: i32(u.TopicPolicyUnits), ContentPolicyUnits: i32(u.ContentPolicyUnits),
			WordPolicyUnits: i32(u.WordPolicyUnits), SensitiveInformationPolicyUnits: i32(u.SensitiveInformationPolicyUnits),
			SensitiveInformationPolicyFreeUnits: i32(u.SensitiveInformationPolicyFreeUnits),
			ContextualGroundingPolicyUnits:      i32(u.ContextualGroundingPolicyUnits),
		}
	}
	if c := out.GuardrailCoverage; c != nil && c.TextCharacters != nil {
		r.Coverage = &guardrail.Coverage{TextCharacters: guardrail.TextCharacters{Guarded: i32(c.TextCharacters.Guarded), Total: i32(c.TextCharacters.Total)}}
	}
	for _, a := range out.Assessments {
		var x guardrail.Assessment
		if p := a.TopicPolicy; p != nil {
			x.TopicPolicy = &guardrail.TopicAssessment{}
			for _, t := range p.Topics {
				x.TopicPolicy.Topics = append(x.TopicPolicy.Topics, guardrail.TopicFinding{Name: str(t.Name), Type: string(t.Type), Action: string(t.Action), Detected: boolv(t.Detected)})
			}
		}
		if p := a.ContentPolicy; p != nil {
			x.ContentPolicy = &guardrail.ContentAssessment{}
			for _, f := range p.Filters {
				x.ContentPolicy.Filters = append(x.ContentPolicy.Filters, guardrail.ContentFinding{Type: string(f.Type), Confidence: string(f.Confidence),
					FilterStrength: string(f.FilterStrength), Action: string(f.Action), Detected: boolv(f.Detected)})
			}
		}
		if p := a.WordPolicy; p != nil {
			x.WordPolicy = &guardrail.WordAssessment{CustomWords: []guardrail.WordFinding{}, ManagedWordLists: []guardrail.ManagedWordFinding{}}
			for _, w := range p.CustomWords {
				x.WordPolicy.CustomWords = append(x.WordPolicy.CustomWords, guardrail.WordFinding{Match: str(w.Match), Action: string(w.Action), Detected: boolv(w.Detected)})
			}
			for _, w := range p.ManagedWordLists {
				x.WordPolicy.ManagedWordLists = append(x.WordPolicy.ManagedWordLists, guardrail.ManagedWordFinding{Match: str(w.Match), Type: string(w.Type), Action: string(w.Action), Detected: boolv(w.Detected)})
			}
		}
		if p := a.SensitiveInformationPolicy; p != nil {
			x.SensitiveInformationPolicy = &guardrail.SensitiveAssessment{PiiEntities: []guardrail.PiiFinding{}, Regexes: []guardrail.RegexFinding{}}
			for _, e := range p.PiiEntities {
				x.SensitiveInformationPolicy.PiiEntities = append(x.SensitiveInformationPolicy.PiiEntities, guardrail.PiiFinding{Type: string(e.Type), Match: str(e.Match), Action: string(e.Action), Detected: boolv(e.Detected)})
			}
			for _, e := range p.Regexes {
				x.SensitiveInformationPolicy.Regexes = append(x.SensitiveInformationPolicy.Regexes, guardrail.RegexFinding{Name: str(e.Name), Match: str(e.Match), Regex: str(e.Regex), Action: string(e.Action), Detected: boolv(e.Detected)})
			}
		}
		if p := a.ContextualGroundingPolicy; p != nil {
			x.ContextualGroundingPolicy = &guardrail.GroundingAssessment{}
			for _, f := range p.Filters {
				x.ContextualGroundingPolicy.Filters = append(x.ContextualGroundingPolicy.Filters, guardrail.GroundingFinding{Type: string(f.Type), Threshold: f64(f.Threshold), Score: f64(f.Score), Action: string(f.Action), Detected: boolv(f.Detected)})
			}
		}
		r.Assessments = append(r.Assessments, x)
	}
	if r.Assessments == nil {
		r.Assessments = []guardrail.Assessment{}
	}
	return r
}
