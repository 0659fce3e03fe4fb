package guardrail

import (
	"context"
	"fmt"
	"regexp"

	"github.com/plinth-ai/plinth/shared/guardrail/pii"
	"github.com/plinth-ai/plinth/shared/guardrail/topics"
	"github.com/plinth-ai/plinth/shared/guardrail/words"
)

// sideRules is what a compiled policy enforces on one source (INPUT or OUTPUT).
type sideRules struct {
	piiSet     pii.Set
	piiAction  [32]string // by pii.Type
	piiNames   []string   // configured types this build cannot detect (reported, never matched)
	regexes    []compiledRegex
	words      *words.Filter
	wordAction []string // per entry of words
	profanity  string   // action for the managed list ("" = off)
	topics     []int    // indexes into Compiled.topicCfg enabled on this side
	topicAct   []string
	content    map[string]contentRule
}

type compiledRegex struct {
	name, pattern, action string
	re                    *regexp.Regexp
}

type contentRule struct {
	strength string
	action   string
}

// Compiled is a validated policy prepared for fast repeated evaluation. It is immutable
// and safe for concurrent use.
type Compiled struct {
	Policy    *Policy
	in, out   sideRules
	topics    *topics.Matcher
	topicCfg  []TopicConfig
	grounding []GroundingFilterConfig
	units     struct{ pii, words, topics, content, grounding bool }
}

// Compile validates p and prepares it for evaluation. The embedder, when the engine has
// one, embeds the topic references once here.
func (e *Engine) Compile(ctx context.Context, p *Policy) (*Compiled, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	c := &Compiled{Policy: p}
	if s := p.SensitiveInformationPolicyConfig; s != nil {
		c.units.pii = len(s.PiiEntitiesConfig)+len(s.RegexesConfig) > 0
		for _, ent := range s.PiiEntitiesConfig {
			for _, side := range []struct {
				src Source
				r   *sideRules
			}{{SourceInput, &c.in}, {SourceOutput, &c.out}} {
				a := sideAction(side.src, ent.Action, ent.InputAction, ent.OutputAction, ent.InputEnabled, ent.OutputEnabled)
				if a == "" {
					continue
				}
				t, ok := pii.ParseType(ent.Type)
				if !ok {
					side.r.piiNames = append(side.r.piiNames, ent.Type)
					continue
				}
				side.r.piiSet = side.r.piiSet.With(t)
				side.r.piiAction[t] = a
			}
		}
		for _, rc := range s.RegexesConfig {
			re, err := regexp.Compile(rc.Pattern)
			if err != nil {
				return nil, fmt.Errorf("%w: regex %q: %v", ErrInvalidPolicy, rc.Name, err)
			}
			if a := sideAction(SourceInput, rc.Action, rc.InputAction, rc.OutputAction, rc.InputEnabled, rc.OutputEnabled); a != "" {
				c.in.regexes = append(c.in.regexes, compiledRegex{rc.Name, rc.Pattern, a, re})
			}
			if a := sideAction(SourceOutput, rc.Action, rc.InputAction, rc.OutputAction, rc.InputEnabled, rc.OutputEnabled); a != "" {
				c.out.regexes = append(c.out.regexes, compiledRegex{rc.Name, rc.Pattern, a, re})
			}
		}
	}
	if w := p.WordPolicyConfig; w != nil {
		c.units.words = len(w.WordsConfig)+len(w.ManagedWordListsConfig) > 0
		for _, side := range []struct {
			src Source
			r   *sideRules
		}{{SourceInput, &c.in}, {SourceOutput, &c.out}} {
			var list []string
			for _, wc := range w.WordsConfig {
				a := sideAction(side.src, ActionBlock, wc.InputAction, wc.OutputAction, wc.InputEnabled, wc.OutputEnabled)
				if a == "" {
					continue
				}
				list = append(list, wc.Text)
				side.r.wordAction = append(side.r.wordAction, a)
			}
			if len(list) > 0 {
				side.r.words = words.New(list)
			}
			for _, m := range w.ManagedWordListsConfig {
				if a := sideAction(side.src, ActionBlock, m.InputAction, m.OutputAction, m.InputEnabled, m.OutputEnabled); a != "" {
					side.r.profanity = a
				}
			}
		}
	}
	if t := p.TopicPolicyConfig; t != nil && len(t.TopicsConfig) > 0 {
		c.units.topics = true
		c.topicCfg = t.TopicsConfig
		var ts []topics.Topic
		for i, tc := range t.TopicsConfig {
			thr := tc.Threshold
			if thr == 0 {
				thr = DefaultTopicThreshold
			}
			ts = append(ts, topics.Topic{Name: tc.Name, Definition: tc.Definition, Examples: tc.Examples, Threshold: thr})
			if a := sideAction(SourceInput, ActionBlock, tc.InputAction, tc.OutputAction, tc.InputEnabled, tc.OutputEnabled); a != "" {
				c.in.topics = append(c.in.topics, i)
				c.in.topicAct = append(c.in.topicAct, a)
			}
			if a := sideAction(SourceOutput, ActionBlock, tc.InputAction, tc.OutputAction, tc.InputEnabled, tc.OutputEnabled); a != "" {
				c.out.topics = append(c.out.topics, i)
				c.out.topicAct = append(c.out.topicAct, a)
			}
		}
		var opts []topics.Option
		if e.embedder != nil {
			opts = append(opts, topics.WithEmbedder(e.embedder))
		}
		m, err := topics.New(ctx, ts, opts...)
		if err != nil {
			return nil, fmt.Errorf("compile topics: %w", err)
		}
		c.topics = m
	}
	if cp := p.ContentPolicyConfig; cp != nil {
		c.in.content = map[string]contentRule{}
		c.out.content = map[string]contentRule{}
		for _, f := range cp.FiltersConfig {
			if enabled(f.InputEnabled) && strengthRank(f.InputStrength) > 0 {
				a := f.InputAction
				if a == "" {
					a = ActionBlock
				}
				c.in.content[f.Type] = contentRule{f.InputStrength, a}
				c.units.content = true
			}
			if f.Type != FilterPromptAttack && enabled(f.OutputEnabled) && strengthRank(f.OutputStrength) > 0 {
				a := f.OutputAction
				if a == "" {
					a = ActionBlock
				}
				c.out.content[f.Type] = contentRule{f.OutputStrength, a}
				c.units.content = true
			}
		}
	}
	if g := p.ContextualGroundingPolicyConfig; g != nil {
		for _, f := range g.FiltersConfig {
			if enabled(f.Enabled) {
				c.grounding = append(c.grounding, f)
				c.units.grounding = true
			}
		}
	}
	return c, nil
}

func (c *Compiled) side(src Source) *sideRules {
	if src == SourceInput {
		return &c.in
	}
	return &c.out
}
