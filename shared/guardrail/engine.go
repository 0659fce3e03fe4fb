package guardrail

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/guardrail/attack"
	"github.com/plinth-ai/plinth/shared/guardrail/content"
	"github.com/plinth-ai/plinth/shared/guardrail/grounding"
	"github.com/plinth-ai/plinth/shared/guardrail/pii"
	"github.com/plinth-ai/plinth/shared/guardrail/textclass"
	"github.com/plinth-ai/plinth/shared/guardrail/topics"
	"github.com/plinth-ai/plinth/shared/guardrail/words"
)

// ErrInvalidRequest is wrapped by errors about a malformed ApplyRequest.
var ErrInvalidRequest = fault.Sentinel("guardrail: invalid request", fault.ErrInvalid)

// Delegate evaluates content with an external guardrail service (Amazon Bedrock's
// ApplyGuardrail); see package bedrockguard.
type Delegate interface {
	ApplyGuardrail(ctx context.Context, identifier, version string, req ApplyRequest) (ApplyResponse, error)
}

// Engine applies guardrail policies. It is safe for concurrent use.
type Engine struct {
	// The classifiers are decoded on first use: a platform whose policies use no
	// content filter or prompt-attack filter never holds them in memory.
	attack   lazyModel
	content  lazyModel
	embedder topics.Embedder
	delegate Delegate
	now      func() time.Time

	mu    sync.Mutex
	cache map[cacheKey]*Compiled
	pool  sync.Pool
}

type cacheKey struct {
	id      string
	version int
}

// Option configures an Engine.
type Option func(*Engine)

// WithEmbedder adds semantic similarity to denied-topic matching.
func WithEmbedder(e topics.Embedder) Option { return func(en *Engine) { en.embedder = e } }

// WithDelegate sets the external guardrail used by policies with a bedrockGuardrail section.
func WithDelegate(d Delegate) Option { return func(en *Engine) { en.delegate = d } }

// WithAttackModel replaces the embedded prompt-attack model.
func WithAttackModel(m *textclass.Model) Option { return func(en *Engine) { en.attack.set(m) } }

// WithContentModel replaces the embedded harmful-content model; its labels must include
// the content filter types it should score (HATE, INSULTS, SEXUAL, VIOLENCE, MISCONDUCT).
func WithContentModel(m *textclass.Model) Option { return func(en *Engine) { en.content.set(m) } }

// New builds an engine with the embedded models. They are decoded when a policy first
// needs them (a content filter or the prompt-attack filter), not here.
func New(opts ...Option) (*Engine, error) {
	e := &Engine{cache: map[cacheKey]*Compiled{}, now: time.Now}
	e.attack.load = attack.Model
	e.content.load = content.Model
	for _, o := range opts {
		o(e)
	}
	e.pool.New = func() any { return &scratch{} }
	return e, nil
}

// lazyModel is a classifier decoded once, on first use.
type lazyModel struct {
	once  sync.Once
	load  func() (*textclass.Model, error)
	model *textclass.Model
	err   error
}

func (l *lazyModel) set(m *textclass.Model) {
	l.load = func() (*textclass.Model, error) { return m, nil }
}

func (l *lazyModel) get() (*textclass.Model, error) {
	l.once.Do(func() { l.model, l.err = l.load() })
	return l.model, l.err
}

// loaded reports whether the model has been decoded (for tests).
func (l *lazyModel) loaded() bool { return l.model != nil }

type scratch struct {
	ws      words.Scanner
	attack  *textclass.Scratch // made on first use, like the engine's models
	content *textclass.Scratch
	ents    []pii.Entity
	wm      []words.Match
}

// compiled returns the compiled form of p, cached by ID and version for stored policies
// (stored versions are immutable; merged and inline policies carry no version).
func (e *Engine) compiled(ctx context.Context, p *Policy) (*Compiled, error) {
	if p.ID == "" || p.Version == 0 {
		return e.Compile(ctx, p)
	}
	k := cacheKey{p.ID, p.Version}
	e.mu.Lock()
	c, ok := e.cache[k]
	e.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := e.Compile(ctx, p)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if len(e.cache) > 1024 {
		clear(e.cache)
	}
	e.cache[k] = c
	e.mu.Unlock()
	return c, nil
}

// Apply evaluates req against policy and answers in ApplyGuardrail's shape. Stored
// policies (with ID and Version) are compiled once and cached.
func (e *Engine) Apply(ctx context.Context, policy *Policy, req ApplyRequest) (ApplyResponse, error) {
	c, err := e.compiled(ctx, policy)
	if err != nil {
		return ApplyResponse{}, err
	}
	return e.ApplyCompiled(ctx, c, req)
}

// block is one guarded content block being evaluated.
type block struct {
	index   int
	text    string
	ascii   bool
	trusted bool
	repl    []replacement
	// atByte and atRune remember the last offset converted by span, so that converting
	// the ascending offsets of one detector's findings is linear in the text.
	atByte, atRune int
}

type replacement struct {
	start, end int
	label      string
}

func (b *block) span(start, end int) Span {
	if b.ascii {
		return Span{Content: b.index, Start: start, End: end}
	}
	if start < b.atByte {
		b.atByte, b.atRune = 0, 0
	}
	s := b.atRune + utf8.RuneCountInString(b.text[b.atByte:start])
	e := s + utf8.RuneCountInString(b.text[start:end])
	b.atByte, b.atRune = end, e
	return Span{Content: b.index, Start: s, End: e}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func findingAction(a string) string {
	switch a {
	case ActionBlock:
		return FindingBlocked
	case ActionAnonymize:
		return FindingAnonymized
	}
	return FindingNone
}

// ApplyCompiled evaluates req against a compiled policy.
func (e *Engine) ApplyCompiled(ctx context.Context, c *Compiled, req ApplyRequest) (ApplyResponse, error) {
	resp, _, err := e.apply(ctx, c, req)
	return resp, err
}

// evaluation carries what the stream scanner needs beyond the response: byte-level
// replacements per guarded block and whether the policy blocked.
type evaluation struct {
	blocks  []block
	blocked bool
}

func (e *Engine) apply(ctx context.Context, c *Compiled, req ApplyRequest) (ApplyResponse, evaluation, error) {
	started := e.now()
	if req.Source != SourceInput && req.Source != SourceOutput {
		return ApplyResponse{}, evaluation{}, fmt.Errorf("%w: source must be INPUT or OUTPUT, got %q", ErrInvalidRequest, req.Source)
	}
	if len(req.Content) == 0 {
		return ApplyResponse{}, evaluation{}, fmt.Errorf("%w: content must hold at least one text block", ErrInvalidRequest)
	}
	p := c.Policy
	if p.Bedrock != nil && e.delegate != nil && p.Bedrock.Exclusive {
		r, err := e.delegate.ApplyGuardrail(ctx, p.Bedrock.GuardrailIdentifier, p.Bedrock.GuardrailVersion, req)
		return r, evaluation{blocked: r.Action == ActionIntervened}, err
	}

	// Which blocks are guarded, which are grounding sources and queries.
	var guarded []block
	var sources []string
	var query string
	anyGuard := false
	for i, cb := range req.Content {
		if cb.Text == nil {
			return ApplyResponse{}, evaluation{}, fmt.Errorf("%w: content[%d].text is required", ErrInvalidRequest, i)
		}
		for _, q := range cb.Text.Qualifiers {
			if q == QualifierGuardContent {
				anyGuard = true
			}
		}
	}
	total := 0
	for i, cb := range req.Content {
		t := cb.Text
		total += utf8.RuneCountInString(t.Text)
		isSrc, isQuery, isGuard := false, false, false
		for _, q := range t.Qualifiers {
			switch q {
			case QualifierGroundingSource:
				isSrc = true
			case QualifierQuery:
				isQuery = true
			case QualifierGuardContent:
				isGuard = true
			default:
				return ApplyResponse{}, evaluation{}, fmt.Errorf("%w: content[%d].text.qualifiers: unknown qualifier %q", ErrInvalidRequest, i, q)
			}
		}
		if isSrc {
			sources = append(sources, t.Text)
		}
		if isQuery {
			query += t.Text
		}
		if (anyGuard && isGuard) || (!anyGuard && !isSrc && !isQuery) {
			guarded = append(guarded, block{index: i, text: t.Text, ascii: isASCII(t.Text), trusted: cb.trusted})
		}
	}

	sr := c.side(req.Source)
	sc := e.pool.Get().(*scratch)
	defer e.pool.Put(sc)

	var (
		sens      SensitiveAssessment
		cont      ContentAssessment
		wordA     WordAssessment
		topicA    TopicAssessment
		groundA   GroundingAssessment
		blocked   bool
		changed   bool
		hasSens   bool
		hasCont   bool
		hasWord   bool
		hasTopic  bool
		hasGround bool
		guardedCh int
	)
	for bi := range guarded {
		b := &guarded[bi]
		guardedCh += utf8.RuneCountInString(b.text)
		// Sensitive information.
		if err := ctx.Err(); err != nil {
			return ApplyResponse{}, evaluation{}, fmt.Errorf("guardrail evaluation stopped: %w", err)
		}
		if sr.piiSet != 0 {
			var err error
			sc.ents, err = pii.DetectContext(ctx, b.text, sr.piiSet, sc.ents[:0])
			if err != nil {
				return ApplyResponse{}, evaluation{}, fmt.Errorf("guardrail evaluation stopped: %w", err)
			}
			for _, en := range sc.ents {
				a := sr.piiAction[en.Type]
				name := en.Type.String()
				sens.PiiEntities = append(sens.PiiEntities, PiiFinding{Type: name, Match: b.text[en.Start:en.End],
					Action: findingAction(a), Detected: true, Confidence: en.Score, Span: b.span(en.Start, en.End)})
				hasSens = true
				switch a {
				case ActionBlock:
					blocked = true
				case ActionAnonymize:
					b.repl = append(b.repl, replacement{en.Start, en.End, "{" + name + "}"})
				}
			}
		}
		for _, rx := range sr.regexes {
			for _, m := range rx.re.FindAllStringIndex(b.text, -1) {
				if m[0] == m[1] {
					continue
				}
				sens.Regexes = append(sens.Regexes, RegexFinding{Name: rx.name, Match: b.text[m[0]:m[1]], Regex: rx.pattern,
					Action: findingAction(rx.action), Detected: true, Span: b.span(m[0], m[1])})
				hasSens = true
				switch rx.action {
				case ActionBlock:
					blocked = true
				case ActionAnonymize:
					b.repl = append(b.repl, replacement{m[0], m[1], "{" + rx.name + "}"})
				}
			}
		}
		// One tokenisation serves words, content, prompt attacks and topics.
		needToks := sr.words != nil || sr.profanity != "" || len(sr.content) > 0 || (c.topics != nil && len(sr.topics) > 0)
		if needToks {
			sc.ws.Load(b.text)
		}
		// Words.
		if sr.words != nil {
			sc.wm = sc.ws.Match(sr.words, sc.wm[:0])
			for _, m := range dedupe(sc.wm) {
				a := sr.wordAction[m.Entry]
				wordA.CustomWords = append(wordA.CustomWords, WordFinding{Match: b.text[m.Start:m.End],
					Action: findingAction(a), Detected: true, Span: b.span(m.Start, m.End)})
				hasWord = true
				blocked = blocked || a == ActionBlock
			}
		}
		if sr.profanity != "" {
			sc.wm = sc.ws.Match(words.Profanity(), sc.wm[:0])
			for _, m := range dedupe(sc.wm) {
				wordA.ManagedWordLists = append(wordA.ManagedWordLists, ManagedWordFinding{Match: b.text[m.Start:m.End],
					Type: ManagedProfanity, Action: findingAction(sr.profanity), Detected: true, Span: b.span(m.Start, m.End)})
				hasWord = true
				blocked = blocked || sr.profanity == ActionBlock
			}
		}
		// Denied topics.
		if c.topics != nil && len(sr.topics) > 0 {
			scores, err := c.topics.MatchTokens(ctx, b.text, sc.ws.Tokens())
			if err != nil {
				return ApplyResponse{}, evaluation{}, err
			}
			for k, ti := range sr.topics {
				s := scores[ti]
				if !s.Matched {
					continue
				}
				a := sr.topicAct[k]
				topicA.Topics = append(topicA.Topics, TopicFinding{Name: s.Name, Type: TopicDeny,
					Action: findingAction(a), Detected: true, Score: round3(s.Score)})
				hasTopic = true
				blocked = blocked || a == ActionBlock
			}
		}
		// Harmful content and prompt attacks.
		if len(sr.content) > 0 {
			needCats := false
			for t := range sr.content {
				if t != FilterPromptAttack {
					needCats = true
				}
			}
			if needCats {
				m, err := e.content.get()
				if err != nil {
					return ApplyResponse{}, evaluation{}, fmt.Errorf("load harmful-content model: %w", err)
				}
				if sc.content == nil {
					sc.content = m.NewScratch()
				}
				probs := m.Predict(sc.content, sc.ws.Tokens())
				for l, label := range m.Labels {
					rule, ok := sr.content[label]
					if !ok {
						continue
					}
					conf := m.Thresholds[l].Confidence(probs[l])
					if conf == StrengthNone {
						continue
					}
					f := ContentFinding{Type: label, Confidence: conf, FilterStrength: rule.strength, Action: FindingNone,
						Detected: true, Score: round3(probs[l])}
					if blocks(rule.strength, conf) && rule.action == ActionBlock {
						f.Action = FindingBlocked
						blocked = true
					}
					cont.Filters = append(cont.Filters, f)
					hasCont = true
				}
			}
			if rule, ok := sr.content[FilterPromptAttack]; ok && req.Source == SourceInput && !b.trusted {
				m, err := e.attack.get()
				if err != nil {
					return ApplyResponse{}, evaluation{}, fmt.Errorf("load prompt-attack model: %w", err)
				}
				if sc.attack == nil {
					sc.attack = m.NewScratch()
				}
				score := m.Predict(sc.attack, sc.ws.Tokens())[0]
				conf := m.Thresholds[0].Confidence(score)
				if conf != StrengthNone {
					f := ContentFinding{Type: FilterPromptAttack, Confidence: conf, FilterStrength: rule.strength,
						Action: FindingNone, Detected: true, Score: round3(score)}
					if blocks(rule.strength, conf) && rule.action == ActionBlock {
						f.Action = FindingBlocked
						blocked = true
					}
					cont.Filters = append(cont.Filters, f)
					hasCont = true
				}
			}
		}
	}
	// Contextual grounding: the guarded text is the answer.
	if len(c.grounding) > 0 && len(guarded) > 0 && (len(sources) > 0 || query != "") {
		var answer strings.Builder
		for _, b := range guarded {
			answer.WriteString(b.text)
			answer.WriteByte('\n')
		}
		// Both checks read the answer once; sources are indexed only for a grounding filter.
		var groundSources []string
		for _, f := range c.grounding {
			if f.Type == GroundingGrounding {
				groundSources = sources
			}
		}
		groundScore, relScore, err := grounding.Check(ctx, answer.String(), groundSources, query)
		if err != nil {
			return ApplyResponse{}, evaluation{}, fmt.Errorf("guardrail evaluation stopped: %w", err)
		}
		for _, f := range c.grounding {
			var score float64
			switch f.Type {
			case GroundingGrounding:
				if len(sources) == 0 {
					continue
				}
				score = groundScore
			case GroundingRelevance:
				if query == "" {
					continue
				}
				score = relScore
			}
			g := GroundingFinding{Type: f.Type, Threshold: f.Threshold, Score: round3(score), Action: FindingNone}
			if score < f.Threshold {
				g.Detected = true
				if f.Action != ActionNone {
					g.Action = FindingBlocked
					blocked = true
				}
			}
			groundA.Filters = append(groundA.Filters, g)
			hasGround = true
		}
	}

	resp := ApplyResponse{Action: ActionNoneResponse, Outputs: []OutputText{}}
	a := Assessment{}
	if hasSens {
		if sens.PiiEntities == nil {
			sens.PiiEntities = []PiiFinding{}
		}
		if sens.Regexes == nil {
			sens.Regexes = []RegexFinding{}
		}
		a.SensitiveInformationPolicy = &sens
	}
	if hasCont {
		a.ContentPolicy = &cont
	}
	if hasWord {
		if wordA.CustomWords == nil {
			wordA.CustomWords = []WordFinding{}
		}
		if wordA.ManagedWordLists == nil {
			wordA.ManagedWordLists = []ManagedWordFinding{}
		}
		a.WordPolicy = &wordA
	}
	if hasTopic {
		a.TopicPolicy = &topicA
	}
	if hasGround {
		a.ContextualGroundingPolicy = &groundA
	}
	resp.Assessments = []Assessment{a}
	for _, b := range guarded {
		if len(b.repl) > 0 {
			changed = true
		}
	}
	switch {
	case blocked:
		resp.Action = ActionIntervened
		resp.ActionReason = "Guardrail blocked."
		msg := p.BlockedInputMessaging
		if req.Source == SourceOutput {
			msg = p.BlockedOutputsMessaging
		}
		if msg == "" {
			msg = DefaultBlockedMessage
		}
		resp.Outputs = []OutputText{{Text: msg}}
	case changed:
		resp.Action = ActionIntervened
		resp.ActionReason = "Guardrail masked."
		for _, b := range guarded {
			resp.Outputs = append(resp.Outputs, OutputText{Text: anonymize(b.text, b.repl)})
		}
	default:
		for _, b := range guarded {
			resp.Outputs = append(resp.Outputs, OutputText{Text: b.text})
		}
	}
	// Usage in 1,000-character text units per configured policy, as Bedrock bills.
	units := (guardedCh + 999) / 1000
	if c.units.pii {
		resp.Usage.SensitiveInformationPolicyUnits = units
	}
	if c.units.words {
		resp.Usage.WordPolicyUnits = units
	}
	if c.units.topics {
		resp.Usage.TopicPolicyUnits = units
	}
	if c.units.content {
		resp.Usage.ContentPolicyUnits = units
	}
	if c.units.grounding && hasGround {
		resp.Usage.ContextualGroundingPolicyUnits = (total + 999) / 1000
	}
	resp.Coverage = &Coverage{TextCharacters: TextCharacters{Guarded: guardedCh, Total: total}}
	if p.ID != "" {
		resp.PolicyRef = &PolicyRef{ID: p.ID, Version: p.Version}
	}

	if p.Bedrock != nil && e.delegate != nil {
		d, err := e.delegate.ApplyGuardrail(ctx, p.Bedrock.GuardrailIdentifier, p.Bedrock.GuardrailVersion, req)
		if err != nil {
			return ApplyResponse{}, evaluation{}, fmt.Errorf("delegate to Bedrock guardrail %s: %w", p.Bedrock.GuardrailIdentifier, err)
		}
		resp = mergeDelegated(resp, d, blocked)
	}
	resp.Assessments[0].InvocationMetrics = &InvocationMs{GuardrailProcessingLatency: e.now().Sub(started).Milliseconds()}
	return resp, evaluation{blocks: guarded, blocked: blocked}, nil
}

// mergeDelegated combines local findings with a delegated evaluation: the assessments are
// concatenated, and the delegate's outputs win unless the local policy blocked.
func mergeDelegated(local, d ApplyResponse, localBlocked bool) ApplyResponse {
	local.Assessments = append(local.Assessments, d.Assessments...)
	u := &local.Usage
	u.TopicPolicyUnits += d.Usage.TopicPolicyUnits
	u.ContentPolicyUnits += d.Usage.ContentPolicyUnits
	u.WordPolicyUnits += d.Usage.WordPolicyUnits
	u.SensitiveInformationPolicyUnits += d.Usage.SensitiveInformationPolicyUnits
	u.SensitiveInformationPolicyFreeUnits += d.Usage.SensitiveInformationPolicyFreeUnits
	u.ContextualGroundingPolicyUnits += d.Usage.ContextualGroundingPolicyUnits
	if d.Action == ActionIntervened && !localBlocked {
		local.Action = ActionIntervened
		local.ActionReason = d.ActionReason
		if len(d.Outputs) > 0 {
			local.Outputs = d.Outputs
		}
	}
	return local
}

// blocks applies Bedrock's strength semantics: HIGH blocks LOW, MEDIUM and HIGH confidence;
// MEDIUM blocks MEDIUM and HIGH; LOW blocks HIGH only; NONE blocks nothing.
func blocks(strength, confidence string) bool {
	s, c := strengthRank(strength), strengthRank(confidence)
	return s > 0 && c > 0 && c >= 4-s
}

func dedupe(ms []words.Match) []words.Match {
	if len(ms) < 2 {
		return ms
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Start != ms[j].Start {
			return ms[i].Start < ms[j].Start
		}
		return ms[i].End > ms[j].End
	})
	out := ms[:1]
	for _, m := range ms[1:] {
		last := out[len(out)-1]
		if m.Start < last.End {
			continue
		}
		out = append(out, m)
	}
	return out
}

// anonymize replaces non-overlapping spans (the earliest, then longest, wins) with labels.
func anonymize(text string, repl []replacement) string {
	if len(repl) == 0 {
		return text
	}
	sort.Slice(repl, func(i, j int) bool {
		if repl[i].start != repl[j].start {
			return repl[i].start < repl[j].start
		}
		return repl[i].end > repl[j].end
	})
	var b strings.Builder
	b.Grow(len(text))
	pos := 0
	for _, r := range repl {
		if r.start < pos {
			if r.end > pos {
				pos = r.end // overlapping tail is covered by the previous label
			}
			continue
		}
		b.WriteString(text[pos:r.start])
		b.WriteString(r.label)
		pos = r.end
	}
	b.WriteString(text[pos:])
	return b.String()
}

func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }
