package guardrail

import (
	"context"
	"strings"
	"unicode/utf8"
)

// Stream defaults.
const (
	// DefaultHoldBack is how many bytes of a stream are held back before release, so an
	// entity split across chunks is seen whole before any of it leaves.
	DefaultHoldBack = 128
	// streamContext is how much already-released text is re-read with new text, so words
	// and phrases that straddle the release point are still recognised.
	streamContext = 192
	// streamStep is how many bytes beyond the hold-back accumulate before a window is
	// evaluated, bounding the work per streamed byte.
	streamStep = 128
	// maxPending forces a release when a stream has no whitespace to cut at.
	maxPending = 8 * DefaultHoldBack
)

// StreamScanner guards a streamed model output in a sliding window. Write returns the
// part of the stream that is safe to send now; text within the hold-back (and any word
// still in progress) is kept until more arrives or Flush. Once the policy blocks, every
// later call returns nothing and intervened is true: the caller sends the policy's
// blocked message (BlockedMessage) and ends the stream. Not safe for concurrent use.
type StreamScanner struct {
	ctx      context.Context
	e        *Engine
	c        *Compiled
	src      Source
	holdBack int

	released strings.Builder // tail of released text (original), for context
	pending  string
	blocked  bool
	summary  Summary
	seen     map[string]bool
	err      error
}

// StreamOption configures a StreamScanner.
type StreamOption func(*StreamScanner)

// WithHoldBack sets the hold-back in bytes (at least 16).
func WithHoldBack(n int) StreamOption {
	return func(s *StreamScanner) { s.holdBack = max(16, n) }
}

// NewStreamScanner starts a guarded stream for policy on source (normally OUTPUT).
// Contextual grounding is not evaluated per window; apply it to the whole answer at the end.
func (e *Engine) NewStreamScanner(ctx context.Context, policy *Policy, source Source, opts ...StreamOption) (*StreamScanner, error) {
	c, err := e.compiled(ctx, policy)
	if err != nil {
		return nil, err
	}
	s := &StreamScanner{ctx: ctx, e: e, c: c, src: source, holdBack: DefaultHoldBack, summary: Summary{Action: ActionNoneResponse}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Write adds a chunk and returns the text that may be sent now.
func (s *StreamScanner) Write(delta string) (safeToEmit string, intervened bool) {
	if s.blocked {
		return "", true
	}
	s.pending += delta
	// Evaluate once enough has accumulated beyond the hold-back, not on every chunk.
	if len(s.pending) < s.holdBack+streamStep {
		return "", false
	}
	return s.step(false)
}

// Flush evaluates and releases whatever is held at the end of the stream.
func (s *StreamScanner) Flush() (rest string, intervened bool) {
	if s.blocked {
		return "", true
	}
	if s.pending == "" {
		return "", false
	}
	return s.step(true)
}

// Intervened reports whether the stream was blocked or masked so far.
func (s *StreamScanner) Intervened() bool { return s.blocked || s.summary.Action == ActionIntervened }

// Blocked reports whether the policy blocked the stream.
func (s *StreamScanner) Blocked() bool { return s.blocked }

// BlockedMessage is the policy's message for a blocked stream.
func (s *StreamScanner) BlockedMessage() string {
	msg := s.c.Policy.BlockedOutputsMessaging
	if s.src == SourceInput {
		msg = s.c.Policy.BlockedInputMessaging
	}
	if msg == "" {
		msg = DefaultBlockedMessage
	}
	return msg
}

// Summary returns the findings so far (types and counts only).
func (s *StreamScanner) Summary() Summary { return s.summary }

// Err returns the first evaluation error (the stream is then treated as blocked).
func (s *StreamScanner) Err() error { return s.err }

func (s *StreamScanner) step(final bool) (string, bool) {
	ctxText := s.released.String()
	window := ctxText + s.pending
	off := len(ctxText)
	resp, ev, err := s.e.apply(s.ctx, s.c, ApplyRequest{Source: s.src, Content: []ContentBlock{{Text: &TextBlock{Text: window}}}})
	if err != nil {
		s.err = err
		s.blocked = true
		return "", true
	}
	offR := utf8.RuneCountInString(ctxText)
	if ev.blocked {
		s.blocked = true
		s.summary.Merge(s.windowSummary(resp, offR, 1<<62))
		s.summary.Action = ActionIntervened
		return "", true
	}
	// Choose the release point: all of it at the end, else hold back holdBack bytes, cut at
	// whitespace, and never inside a detected entity.
	cut := len(window)
	if !final {
		cut = len(window) - s.holdBack
		if ws := strings.LastIndexAny(window[off:cut], " \t\n"); ws >= 0 {
			cut = off + ws + 1
		} else if len(s.pending) < maxPending {
			return "", false
		}
	}
	var repl []replacement
	if len(ev.blocks) > 0 {
		repl = ev.blocks[0].repl
	}
	for _, r := range repl {
		if r.start < cut && r.end > cut {
			cut = r.start
		}
	}
	if cut <= off {
		return "", false
	}
	// Anonymise the released part with the replacements that lie in it (not in the
	// already released context).
	var rel []replacement
	for _, r := range repl {
		if r.start >= off && r.end <= cut {
			rel = append(rel, replacement{r.start - off, r.end - off, r.label})
		}
	}
	out := anonymize(window[off:cut], rel)
	s.summary.Merge(s.windowSummary(resp, offR, offR+utf8.RuneCountInString(window[off:cut])))
	if len(rel) > 0 {
		s.summary.Action = ActionIntervened
	}
	// Keep the original (not anonymised) released text as context, bounded.
	newCtx := window[:cut]
	if len(newCtx) > streamContext {
		k := len(newCtx) - streamContext
		for k < len(newCtx) && !utf8.RuneStart(newCtx[k]) {
			k++
		}
		newCtx = newCtx[k:]
	}
	s.released.Reset()
	s.released.WriteString(newCtx)
	s.pending = window[cut:]
	return out, false
}

// windowSummary counts the findings of one window that start in the released range
// [from, to) (code points); findings without a position are counted once per stream.
func (s *StreamScanner) windowSummary(r ApplyResponse, from, to int) Summary {
	in := func(sp Span) bool { return sp.Start >= from && sp.Start < to }
	var f ApplyResponse
	f.Action = ActionNoneResponse
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	once := func(kind string) bool {
		if s.seen[kind] {
			return false
		}
		s.seen[kind] = true
		return true
	}
	for _, a := range r.Assessments {
		var o Assessment
		if p := a.SensitiveInformationPolicy; p != nil {
			o.SensitiveInformationPolicy = &SensitiveAssessment{}
			for _, x := range p.PiiEntities {
				if in(x.Span) {
					o.SensitiveInformationPolicy.PiiEntities = append(o.SensitiveInformationPolicy.PiiEntities, x)
				}
			}
			for _, x := range p.Regexes {
				if in(x.Span) {
					o.SensitiveInformationPolicy.Regexes = append(o.SensitiveInformationPolicy.Regexes, x)
				}
			}
		}
		if p := a.WordPolicy; p != nil {
			o.WordPolicy = &WordAssessment{}
			for _, x := range p.CustomWords {
				if in(x.Span) {
					o.WordPolicy.CustomWords = append(o.WordPolicy.CustomWords, x)
				}
			}
			for _, x := range p.ManagedWordLists {
				if in(x.Span) {
					o.WordPolicy.ManagedWordLists = append(o.WordPolicy.ManagedWordLists, x)
				}
			}
		}
		if p := a.TopicPolicy; p != nil {
			o.TopicPolicy = &TopicAssessment{}
			for _, x := range p.Topics {
				if once("topic." + x.Name) {
					o.TopicPolicy.Topics = append(o.TopicPolicy.Topics, x)
				}
			}
		}
		if p := a.ContentPolicy; p != nil {
			o.ContentPolicy = &ContentAssessment{}
			for _, x := range p.Filters {
				if once("content." + x.Type) {
					o.ContentPolicy.Filters = append(o.ContentPolicy.Filters, x)
				}
			}
		}
		f.Assessments = append(f.Assessments, o)
	}
	return Summarize(f)
}

// Filters returns the summary kinds of the filters that acted on the stream so far:
// those that blocked, else those that masked text.
func (s *StreamScanner) Filters() []string { return s.summary.Acted() }

// Findings returns the findings so far as bare type counts ("EMAIL": 1).
func (s *StreamScanner) Findings() map[string]int { return s.summary.Findings() }

// Message is the policy's blocked message (BlockedMessage).
func (s *StreamScanner) Message() string { return s.BlockedMessage() }
