package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/tokens"
)

// ChatModelID is the model name local-chat reports.
const ChatModelID = "local-chat"

// Answers local-chat gives when the prompt holds nothing to extract from.
const (
	NoContextAnswer = "I can only answer from text given in the prompt, and this prompt contains no context to answer from."
	NoMatchAnswer   = "The provided context does not contain an answer to this question."
)

// maxAnswerSentences caps how many context sentences an answer quotes.
const maxAnswerSentences = 2

type chatModel struct {
	now func() time.Time
}

// ChatOption configures local-chat.
type ChatOption func(*chatModel)

// WithClock sets the clock used for the responses' created timestamps.
func WithClock(now func() time.Time) ChatOption {
	return func(m *chatModel) { m.now = now }
}

// NewChat returns local-chat, the built-in extractive chat model.
func NewChat(opts ...ChatOption) provider.ChatModel {
	m := &chatModel{now: time.Now}
	for _, o := range opts {
		o(m)
	}
	return m
}

var idSeq atomic.Uint64

func newID(prefix string, now time.Time) string {
	b := make([]byte, 0, 40)
	b = append(b, prefix...)
	b = strconv.AppendUint(b, uint64(now.UnixNano()), 36)
	b = append(b, '-')
	b = strconv.AppendUint(b, idSeq.Add(1), 36)
	return string(b)
}

// completion is local-chat's decision for one request.
type completion struct {
	text         string
	toolCall     *provider.ToolCall
	finishReason string
	usage        provider.Usage
}

func badRequest(code, msg string) error {
	return &provider.Error{Kind: provider.KindBadRequest, Provider: "local", Code: code, Message: msg}
}

func (m *chatModel) complete(req *provider.ChatRequest) (*completion, error) {
	if req.N != nil && *req.N > 1 {
		return nil, badRequest("unsupported_value", "local-chat supports n=1 only")
	}
	if len(req.Messages) == 0 {
		return nil, badRequest("invalid_request", "messages must not be empty")
	}
	if mt := req.MaxOutputTokens(); mt < 0 {
		return nil, badRequest("invalid_value", "max_tokens must not be negative")
	}
	c := &completion{}
	c.usage.PromptTokens = promptTokens(req)

	tool, err := forcedTool(req)
	if err != nil {
		return nil, err
	}
	if tool != nil {
		args := buildArguments(tool, questionOf(req.Messages))
		// Tool-call ids are unique across requests: clients key tool results by them.
		id := newID("call_", m.now())
		c.toolCall = &provider.ToolCall{ID: id, Type: "function", Function: provider.FunctionCall{Name: tool.Function.Name, Arguments: args}}
		c.finishReason = "tool_calls"
		c.usage.CompletionTokens = tokens.Count(tool.Function.Name) + tokens.Count(args)
	} else {
		c.text = continueAfter(prefillOf(req.Messages), answer(req.Messages))
		c.finishReason = "stop"
		if i := firstStop(c.text, req.Stop); i >= 0 {
			c.text = c.text[:i]
		}
		if mt := req.MaxOutputTokens(); req.MaxCompletionTokens != nil || req.MaxTokens != nil {
			var cut bool
			c.text, cut = tokens.Truncate(c.text, mt)
			if cut {
				c.finishReason = "length"
			}
		}
		if text, ok := structured(req, c.text); ok {
			c.text = text
		}
		c.usage.CompletionTokens = tokens.Count(c.text)
	}
	c.usage.TotalTokens = c.usage.PromptTokens + c.usage.CompletionTokens
	return c, nil
}

func firstStop(s string, stops provider.Stop) int {
	best := -1
	for _, st := range stops {
		if st == "" {
			continue
		}
		if i := strings.Index(s, st); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// promptTokens counts the message texts, tool-call arguments and tool declarations.
func promptTokens(req *provider.ChatRequest) int {
	n := 0
	for i := range req.Messages {
		msg := &req.Messages[i]
		n += tokens.Count(msg.Content.String())
		for _, tc := range msg.ToolCalls {
			n += tokens.Count(tc.Function.Name) + tokens.Count(tc.Function.Arguments)
		}
	}
	for _, t := range req.Tools {
		n += tokens.Count(t.Function.Name) + tokens.Count(t.Function.Description) + tokens.Count(string(t.Function.Parameters))
	}
	return n
}

// Chat implements provider.ChatModel.
func (m *chatModel) Chat(ctx context.Context, req *provider.ChatRequest) (*provider.ChatResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, &provider.Error{Kind: provider.KindTimeout, Provider: "local", Message: "request cancelled", Err: err}
	}
	c, err := m.complete(req)
	if err != nil {
		return nil, err
	}
	now := m.now()
	msg := provider.Message{Role: "assistant"}
	if c.toolCall != nil {
		msg.Content = provider.Content{Null: true}
		msg.ToolCalls = []provider.ToolCall{*c.toolCall}
	} else {
		msg.Content = provider.TextContent(c.text)
	}
	usage := c.usage
	return &provider.ChatResponse{
		ID:      newID("chatcmpl-local-", now),
		Object:  "chat.completion",
		Created: now.Unix(),
		Model:   modelName(req.Model),
		Choices: []provider.Choice{{Index: 0, Message: msg, FinishReason: c.finishReason, Logprobs: json.RawMessage("null")}},
		Usage:   &usage,
	}, nil
}

func modelName(m string) string {
	if m == "" {
		return ChatModelID
	}
	return m
}

// ChatStream implements provider.ChatModel: the answer arrives one word per chunk, then
// a chunk with the finish reason, then a usage chunk with no choices.
func (m *chatModel) ChatStream(ctx context.Context, req *provider.ChatRequest) (provider.Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, &provider.Error{Kind: provider.KindTimeout, Provider: "local", Message: "request cancelled", Err: err}
	}
	c, err := m.complete(req)
	if err != nil {
		return nil, err
	}
	now := m.now()
	return &chatStream{ctx: ctx, c: c, id: newID("chatcmpl-local-", now), created: now.Unix(), model: modelName(req.Model)}, nil
}

type chatStream struct {
	ctx     context.Context
	c       *completion
	id      string
	created int64
	model   string
	state   int // 0 role, 1 content, 2 finish, 3 usage, 4 done
	pos     int // byte offset into the text (or arguments) already sent
	closed  bool
}

func (s *chatStream) chunk(choices []provider.ChunkChoice) *provider.ChatChunk {
	return &provider.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model, Choices: choices}
}

// Recv implements provider.Stream.
func (s *chatStream) Recv() (*provider.ChatChunk, error) {
	if s.closed {
		return nil, io.EOF
	}
	if err := s.ctx.Err(); err != nil {
		return nil, &provider.Error{Kind: provider.KindTimeout, Provider: "local", Message: "stream cancelled", Err: err}
	}
	switch s.state {
	case 0:
		s.state = 1
		d := provider.Delta{Role: "assistant"}
		if tc := s.c.toolCall; tc != nil {
			zero := 0
			d.ToolCalls = []provider.ToolCall{{Index: &zero, ID: tc.ID, Type: "function", Function: provider.FunctionCall{Name: tc.Function.Name}}}
		} else {
			empty := ""
			d.Content = &empty
		}
		return s.chunk([]provider.ChunkChoice{{Delta: d}}), nil
	case 1:
		src := s.c.text
		if s.c.toolCall != nil {
			src = s.c.toolCall.Function.Arguments
		}
		if s.pos >= len(src) {
			s.state = 2
			return s.Recv()
		}
		end := nextWordEnd(src, s.pos)
		piece := src[s.pos:end]
		s.pos = end
		var d provider.Delta
		if s.c.toolCall != nil {
			zero := 0
			d.ToolCalls = []provider.ToolCall{{Index: &zero, Function: provider.FunctionCall{Arguments: piece}}}
		} else {
			d.Content = &piece
		}
		return s.chunk([]provider.ChunkChoice{{Delta: d}}), nil
	case 2:
		s.state = 3
		fr := s.c.finishReason
		return s.chunk([]provider.ChunkChoice{{Delta: provider.Delta{}, FinishReason: &fr}}), nil
	case 3:
		s.state = 4
		ch := s.chunk([]provider.ChunkChoice{})
		u := s.c.usage
		ch.Usage = &u
		return ch, nil
	}
	return nil, io.EOF
}

// nextWordEnd returns the end of the chunk starting at pos: leading whitespace plus one
// word (or a run of non-space characters).
func nextWordEnd(s string, pos int) int {
	i := pos
	for i < len(s) && isSpaceByte(s[i]) {
		i++
	}
	for i < len(s) && !isSpaceByte(s[i]) {
		i++
	}
	return i
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// Close implements provider.Stream.
func (s *chatStream) Close() error {
	s.closed = true
	return nil
}

// --- answering ---

var (
	contextMarker  = regexp.MustCompile(`(?im)^[ \t]*(?:#+[ \t]*)?(context|sources|documents|passages|references)[ \t]*:[ \t]*`)
	questionMarker = regexp.MustCompile(`(?im)(?:^|\n)[ \t]*(?:#+[ \t]*)?(question|query)[ \t]*:[ \t]*`)
)

// questionOf returns the last user message's question text.
func questionOf(msgs []provider.Message) string {
	q, _ := splitQuestion(msgs)
	return q
}

// splitQuestion returns the question and the text of the last user message before it.
func splitQuestion(msgs []provider.Message) (question, rest string) {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != "user" {
			continue
		}
		t := msgs[i].Content.String()
		if locs := questionMarker.FindAllStringIndex(t, -1); len(locs) > 0 {
			last := locs[len(locs)-1]
			q := strings.TrimSpace(t[last[1]:])
			// Instructions may follow on later lines ("Answer with citations:").
			if i := strings.IndexByte(q, '\n'); i > 0 {
				q = strings.TrimSpace(q[:i])
			}
			return q, t[:last[0]]
		}
		return strings.TrimSpace(t), ""
	}
	return "", ""
}

// contextOf gathers the text local-chat may quote.
func contextOf(msgs []provider.Message, restOfQuestion string) string {
	lastUser := -1
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			lastUser = i
			break
		}
	}
	var texts []string
	for i, m := range msgs {
		switch {
		case i == lastUser:
			if restOfQuestion != "" {
				texts = append(texts, restOfQuestion)
			}
		case m.Role == "system" || m.Role == "developer" || m.Role == "user" || m.Role == "tool":
			texts = append(texts, m.Content.String())
		}
	}
	// An explicit context block wins over instructions around it.
	var blocks []string
	for _, t := range texts {
		if loc := contextMarker.FindStringIndex(t); loc != nil {
			body := t[loc[1]:]
			if q := questionMarker.FindStringIndex(body); q != nil {
				body = body[:q[0]]
			}
			blocks = append(blocks, body)
		}
	}
	if len(blocks) > 0 {
		return strings.Join(blocks, "\n")
	}
	return strings.Join(texts, "\n")
}

// prefillOf returns the final message's text when it is the assistant's: an answer begun
// elsewhere that local-chat is to continue.
func prefillOf(msgs []provider.Message) string {
	if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" {
		return msgs[n-1].Content.String()
	}
	return ""
}

// continueAfter continues prefill with the answer: what the answer adds after the
// prefill when the answer begins with it, else the whole answer as a new sentence.
func continueAfter(prefill, ans string) string {
	switch {
	case prefill == "":
		return ans
	case strings.HasPrefix(ans, prefill):
		return ans[len(prefill):]
	}
	return " " + ans
}

func answer(msgs []provider.Message) string {
	question, rest := splitQuestion(msgs)
	ctxText := contextOf(msgs, rest)
	sentences, labels := sourcedSentences(ctxText)
	if len(sentences) == 0 {
		// A single user message may carry both: the question is its last sentence.
		all := splitSentences(contextMarker.ReplaceAllString(question, ""))
		if len(all) < 2 {
			return NoContextAnswer
		}
		qi := len(all) - 1
		for i := len(all) - 1; i >= 0; i-- {
			if strings.HasSuffix(all[i], "?") {
				qi = i
				break
			}
		}
		question = all[qi]
		sentences = append(all[:qi:qi], all[qi+1:]...)
		labels = nil
		if len(sentences) == 0 {
			return NoContextAnswer
		}
	}
	picked := bestSentences(question, sentences)
	if len(picked) == 0 {
		return NoMatchAnswer
	}
	cite := labels != nil && wantsCitations(msgs)
	out := make([]string, len(picked))
	for i, idx := range picked {
		out[i] = sentences[idx]
		if cite && labels[idx] != "" && !strings.Contains(out[i], labels[idx]) {
			out[i] += " " + labels[idx]
		}
	}
	return strings.Join(out, " ")
}

var (
	// sourceLabel matches a numbered source at the start of a line: "[3] ...".
	sourceLabel = regexp.MustCompile(`^\s*(\[\d+\])\s*`)
	// sourceHeader is what may follow the label on a header line: "(handbook.pdf, page 2)".
	sourceHeader = regexp.MustCompile(`^\([^)]*\)\s*$`)
	citeRequest  = regexp.MustCompile(`(?i)\bcit(e|es|ing|ations?)\b`)
)

// sourcedSentences splits a context into sentences and labels each with the numbered
// source ("[2]") it sits under, if the context numbers its sources.
func sourcedSentences(text string) (sentences, labels []string) {
	current := ""
	numbered := false
	for line := range strings.Lines(text) {
		if m := sourceLabel.FindStringSubmatchIndex(line); m != nil {
			current = line[m[2]:m[3]]
			numbered = true
			line = line[m[1]:]
			if sourceHeader.MatchString(line) {
				continue
			}
		}
		for _, s := range splitSentences(line) {
			sentences = append(sentences, s)
			labels = append(labels, current)
		}
	}
	if !numbered {
		labels = nil
	}
	return sentences, labels
}

// wantsCitations reports whether the prompt asks for citations.
func wantsCitations(msgs []provider.Message) bool {
	for i := range msgs {
		if msgs[i].Role != "assistant" && citeRequest.MatchString(msgs[i].Content.String()) {
			return true
		}
	}
	return false
}

// splitSentences splits text into trimmed sentences at line breaks and at ".", "!" or
// "?" followed by a space and a capital letter, digit, quote or bracket.
func splitSentences(text string) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if tokens.Count(s) > 0 {
			out = append(out, s)
		}
	}
	for line := range strings.Lines(text) {
		start := 0
		for i := 0; i+2 < len(line); i++ {
			c := line[i]
			if (c == '.' || c == '!' || c == '?') && line[i+1] == ' ' {
				n := line[i+2]
				if n >= 'A' && n <= 'Z' || n >= '0' && n <= '9' || n == '"' || n == '(' || n == '[' || n >= 0x80 {
					if c == '.' && isAbbreviation(line[start:i]) {
						continue
					}
					add(line[start : i+1])
					start = i + 2
				}
			}
		}
		add(line[start:])
	}
	return out
}

// isAbbreviation reports whether s ends with a short abbreviation ("Dr", "e.g", "U.S")
// whose full stop does not end a sentence.
func isAbbreviation(s string) bool {
	j := len(s)
	i := j
	for i > 0 && s[i-1] != ' ' {
		i--
	}
	w := s[i:j]
	switch strings.ToLower(w) {
	case "dr", "mr", "mrs", "ms", "prof", "st", "vs", "e.g", "i.e", "etc", "fig", "no", "al":
		return true
	}
	return len(w) == 1 && w[0] >= 'A' && w[0] <= 'Z'
}

// bestSentences ranks sentences by BM25 against the question's terms and returns the
// indexes of the best one or two, in document order.
func bestSentences(question string, sentences []string) []int {
	qTerms := terms(question)
	if len(qTerms) == 0 {
		return nil
	}
	slices.Sort(qTerms)
	qTerms = slices.Compact(qTerms)
	docs := make([][]string, len(sentences))
	df := make(map[string]int, len(qTerms))
	total := 0
	for i, s := range sentences {
		docs[i] = terms(s)
		total += len(docs[i])
		seen := map[string]bool{}
		for _, t := range docs[i] {
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	avg := float64(total) / float64(len(sentences))
	if avg == 0 {
		avg = 1
	}
	const k1, b = 1.2, 0.75
	n := float64(len(sentences))
	type scored struct {
		idx   int
		score float64
	}
	var ranked []scored
	for i, d := range docs {
		tf := map[string]int{}
		for _, t := range d {
			tf[t]++
		}
		if strings.HasSuffix(sentences[i], "?") {
			continue // a question is never an answer
		}
		score := 0.0
		for _, q := range qTerms {
			f := float64(tf[q])
			if f == 0 {
				continue
			}
			idf := math.Log(1 + (n-float64(df[q])+0.5)/(float64(df[q])+0.5))
			score += idf * f * (k1 + 1) / (f + k1*(1-b+b*float64(len(d))/avg))
		}
		if score > 0 {
			ranked = append(ranked, scored{i, score})
		}
	}
	if len(ranked) == 0 {
		return nil
	}
	slices.SortStableFunc(ranked, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	picked := []int{ranked[0].idx}
	for _, r := range ranked[1:] {
		if len(picked) == maxAnswerSentences || r.score < 0.75*ranked[0].score {
			break
		}
		picked = append(picked, r.idx)
	}
	slices.Sort(picked)
	return picked
}

// --- tools ---

// forcedTool returns the tool the request obliges the model to call, if any.
func forcedTool(req *provider.ChatRequest) (*provider.Tool, error) {
	choice := strings.TrimSpace(string(req.ToolChoice))
	if choice == "" || choice == "null" || choice == `"none"` || choice == `"auto"` {
		return nil, nil
	}
	if len(req.Tools) == 0 {
		return nil, badRequest("invalid_value", "tool_choice is set but no tools were given")
	}
	if choice == `"required"` {
		q := terms(questionOf(req.Messages))
		best, bestScore := 0, -1
		for i, t := range req.Tools {
			score := overlap(q, terms(strings.ReplaceAll(t.Function.Name, "_", " ")+" "+t.Function.Description))
			if score > bestScore {
				best, bestScore = i, score
			}
		}
		return &req.Tools[best], nil
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(req.ToolChoice, &named); err != nil || named.Function.Name == "" {
		return nil, badRequest("invalid_value", "tool_choice must be none, auto, required or a named function")
	}
	for i := range req.Tools {
		if req.Tools[i].Function.Name == named.Function.Name {
			return &req.Tools[i], nil
		}
	}
	return nil, badRequest("invalid_value", fmt.Sprintf("tool_choice names unknown function %q", named.Function.Name))
}

func overlap(a, b []string) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}

type schema struct {
	Type       any                `json:"type"`
	Properties map[string]*schema `json:"properties"`
	Required   []string           `json:"required"`
	Enum       []any              `json:"enum"`
}

func (s *schema) typeName() string {
	switch t := s.Type.(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if str, ok := x.(string); ok && str != "null" {
				return str
			}
		}
	}
	return "string"
}

var (
	numberPattern      = regexp.MustCompile(`-?\d+(?:\.\d+)?`)
	properNounPattern  = regexp.MustCompile(`\b[A-Z][\p{L}'-]+(?:\s+[A-Z][\p{L}'-]+)*`)
	questionWordsStart = regexp.MustCompile(`^(?:What|Who|Where|When|Why|How|Which|Is|Are|Do|Does|Can|Could|Please|Find|Get|Show|Tell|Give|List|I)\b`)
)

// buildArguments fills the function's parameters from the question: "name: value"
// pairs first, then a matching enum value, the first number, a capitalised name, or
// the question itself. The result is always a valid JSON object.
func buildArguments(tool *provider.Tool, question string) string {
	var sc schema
	if len(tool.Function.Parameters) > 0 {
		_ = json.Unmarshal(tool.Function.Parameters, &sc) // a malformed schema yields {}
	}
	names := sc.Required
	if len(names) == 0 {
		for name := range sc.Properties {
			names = append(names, name)
		}
	}
	args := make(map[string]any, len(names))
	for _, name := range names {
		ps := sc.Properties[name]
		if ps == nil {
			ps = &schema{}
		}
		args[name] = argumentValue(name, ps, question)
	}
	b, err := json.Marshal(args)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func argumentValue(name string, ps *schema, question string) any {
	explicit := ""
	if re, err := regexp.Compile(`(?i)\b` + regexp.QuoteMeta(strings.ReplaceAll(name, "_", " ")) + `\s*(?:[:=]|\bis\b)\s*"?([^",;\n]+)"?`); err == nil {
		if m := re.FindStringSubmatch(question); m != nil {
			explicit = strings.TrimSpace(m[1])
		}
	}
	if len(ps.Enum) > 0 {
		lq := strings.ToLower(question)
		for _, e := range ps.Enum {
			if s, ok := e.(string); ok && (strings.EqualFold(s, explicit) || strings.Contains(lq, strings.ToLower(s))) {
				return e
			}
		}
		return ps.Enum[0]
	}
	switch ps.typeName() {
	case "integer", "number":
		src := question
		if explicit != "" {
			src = explicit
		}
		if m := numberPattern.FindString(src); m != "" {
			if ps.typeName() == "integer" {
				if i, err := strconv.ParseInt(strings.SplitN(m, ".", 2)[0], 10, 64); err == nil {
					return i
				}
			} else if f, err := strconv.ParseFloat(m, 64); err == nil {
				return f
			}
		}
		return 0
	case "boolean":
		return strings.EqualFold(explicit, "true") || strings.EqualFold(explicit, "yes")
	case "array":
		if explicit != "" {
			return []any{explicit}
		}
		return []any{}
	case "object":
		return map[string]any{}
	}
	if explicit != "" {
		return explicit
	}
	switch strings.ToLower(name) {
	case "query", "q", "question", "text", "prompt", "input", "message", "search", "content":
		return question
	}
	for _, m := range properNounPattern.FindAllStringIndex(question, -1) {
		cand := question[m[0]:m[1]]
		if m[0] == 0 || questionWordsStart.MatchString(cand) {
			// Drop a leading sentence word such as "What" and keep the rest of the name.
			if sp := strings.IndexByte(cand, ' '); sp > 0 && questionWordsStart.MatchString(cand) {
				cand = strings.TrimSpace(cand[sp+1:])
			} else if questionWordsStart.MatchString(cand) || m[0] == 0 && !strings.Contains(cand, " ") {
				continue
			}
		}
		if cand != "" {
			return cand
		}
	}
	return question
}

// structured wraps the answer as JSON when response_format asks for it: a json_object
// becomes {"answer": …}; a json_schema's string fields named like an answer get the
// answer and its other fields are filled as tool arguments are.
func structured(req *provider.ChatRequest, answer string) (string, bool) {
	if len(req.ResponseFormat) == 0 {
		return "", false
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if json.Unmarshal(req.ResponseFormat, &rf) != nil {
		return "", false
	}
	switch rf.Type {
	case "json_object":
		b, _ := json.Marshal(map[string]string{"answer": answer})
		return string(b), true
	case "json_schema":
		var sc schema
		if json.Unmarshal(rf.JSONSchema.Schema, &sc) != nil || len(sc.Properties) == 0 {
			b, _ := json.Marshal(map[string]string{"answer": answer})
			return string(b), true
		}
		question := questionOf(req.Messages)
		out := make(map[string]any, len(sc.Properties))
		for name, ps := range sc.Properties {
			if ps == nil {
				ps = &schema{}
			}
			switch strings.ToLower(name) {
			case "answer", "response", "text", "content", "result", "output", "reply", "message":
				if ps.typeName() == "string" && len(ps.Enum) == 0 {
					out[name] = answer
					continue
				}
			}
			out[name] = argumentValue(name, ps, question)
		}
		b, err := json.Marshal(out)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
	return "", false
}
