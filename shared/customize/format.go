package customize

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Format is a dataset's record layout.
type Format string

// Formats: Bedrock's and OpenAI's layouts for supervised fine-tuning, and Bedrock's for
// continued pre-training.
const (
	// FormatPromptCompletion records are {"prompt": "...", "completion": "..."}.
	FormatPromptCompletion Format = "prompt_completion"
	// FormatConversation records are {"system": "...", "messages": [{"role":"user",
	// "content":"..."}, {"role":"assistant","content":"..."}, ...]} (system optional; a
	// leading message with role "system" is accepted as OpenAI writes it).
	FormatConversation Format = "conversation"
	// FormatPretraining records are {"input": "..."}: unlabelled text.
	FormatPretraining Format = "continued_pretraining"
)

// CustomizationType is Bedrock's CustomizationType.
type CustomizationType string

// Customisation types.
const (
	TypeFineTuning            CustomizationType = "FINE_TUNING"
	TypeContinuedPreTraining  CustomizationType = "CONTINUED_PRE_TRAINING"
	TypeDistillation          CustomizationType = "DISTILLATION"
	defaultCustomizationType                    = TypeFineTuning
	maxIssuesPerReport                          = 100
	defaultMaxRecordLineBytes                   = 1 << 20
)

// Message is one turn of a conversation record.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Record is one validated training record in a neutral shape.
type Record struct {
	Prompt     string    `json:"prompt,omitempty"`
	Completion string    `json:"completion,omitempty"`
	System     string    `json:"system,omitempty"`
	Messages   []Message `json:"messages,omitempty"`
	Input      string    `json:"input,omitempty"`
}

// rawRecord accepts every known field of every format; json.RawMessage keeps the
// distinction between absent, null and the wrong type.
type rawRecord struct {
	Prompt     json.RawMessage `json:"prompt"`
	Completion json.RawMessage `json:"completion"`
	System     json.RawMessage `json:"system"`
	Messages   json.RawMessage `json:"messages"`
	Input      json.RawMessage `json:"input"`
}

// detect returns the format a record is written in, or "" when it fits none.
func (r *rawRecord) detect() Format {
	switch {
	case r.Messages != nil:
		return FormatConversation
	case r.Prompt != nil || r.Completion != nil:
		return FormatPromptCompletion
	case r.Input != nil:
		return FormatPretraining
	}
	return ""
}

// recordError is a problem with one record: a code and a message without the line.
type recordError struct {
	code, msg string
}

func bad(code, format string, args ...any) *recordError {
	return &recordError{code: code, msg: fmt.Sprintf(format, args...)}
}

func stringField(raw json.RawMessage, name string, required bool) (string, *recordError) {
	if raw == nil {
		if required {
			return "", bad("missing_field", "missing required field %q", name)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", bad("invalid_field", "field %q must be a string", name)
	}
	return s, nil
}

// parse turns a raw record of format f into a Record, checking the format's rules.
func (r *rawRecord) parse(f Format) (Record, *recordError) {
	var rec Record
	var e *recordError
	switch f {
	case FormatPromptCompletion:
		if rec.Prompt, e = stringField(r.Prompt, "prompt", true); e != nil {
			return rec, e
		}
		if rec.Completion, e = stringField(r.Completion, "completion", true); e != nil {
			return rec, e
		}
		if strings.TrimSpace(rec.Completion) == "" {
			return rec, bad("empty_completion", "completion is empty")
		}
		if r.Messages != nil || r.Input != nil || r.System != nil {
			return rec, bad("mixed_fields", "a prompt/completion record may not also have system, messages or input")
		}
	case FormatPretraining:
		if rec.Input, e = stringField(r.Input, "input", true); e != nil {
			return rec, e
		}
		if strings.TrimSpace(rec.Input) == "" {
			return rec, bad("empty_input", "input is empty")
		}
		if r.Prompt != nil || r.Completion != nil || r.Messages != nil || r.System != nil {
			return rec, bad("mixed_fields", "a continued pre-training record has only an input field")
		}
	case FormatConversation:
		if r.Prompt != nil || r.Completion != nil || r.Input != nil {
			return rec, bad("mixed_fields", "a conversation record has only system and messages")
		}
		if rec.System, e = stringField(r.System, "system", false); e != nil {
			return rec, e
		}
		var msgs []Message
		if err := json.Unmarshal(r.Messages, &msgs); err != nil {
			return rec, bad("invalid_field", "messages must be an array of {\"role\",\"content\"} objects with string content")
		}
		if len(msgs) > 0 && msgs[0].Role == "system" {
			if rec.System != "" {
				return rec, bad("invalid_field", "a conversation has a system field and a system message; use one")
			}
			rec.System = msgs[0].Content
			msgs = msgs[1:]
		}
		if e := checkTurns(msgs); e != nil {
			return rec, e
		}
		rec.Messages = msgs
	default:
		return rec, bad("unknown_format", "the record is in none of the supported formats: {prompt, completion}, {system, messages} or {input}")
	}
	return rec, nil
}

// checkTurns enforces the conversation rules Bedrock documents: at least two
// messages, starting with the user, alternating, ending with the assistant, none empty.
func checkTurns(msgs []Message) *recordError {
	if len(msgs) < 2 {
		return bad("too_few_messages", "a conversation needs at least a user and an assistant message")
	}
	for i, m := range msgs {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.Role != "user" && m.Role != "assistant" {
			return bad("invalid_role", "messages[%d].role %q must be user or assistant", i, m.Role)
		}
		if m.Role != want {
			return bad("turn_order", "messages[%d] is %s but turns must alternate starting with user", i, m.Role)
		}
		if strings.TrimSpace(m.Content) == "" {
			if m.Role == "assistant" {
				return bad("empty_completion", "messages[%d] (assistant) is empty", i)
			}
			return bad("empty_message", "messages[%d] (user) is empty", i)
		}
	}
	if msgs[len(msgs)-1].Role != "assistant" {
		return bad("turn_order", "the last message must be the assistant's")
	}
	return nil
}

// texts returns the record's texts in a fixed order (for PII scanning and hashing).
func (r *Record) texts() []string {
	switch {
	case r.Messages != nil:
		out := make([]string, 0, len(r.Messages)+1)
		out = append(out, r.System)
		for _, m := range r.Messages {
			out = append(out, m.Content)
		}
		return out
	case r.Input != "":
		return []string{r.Input}
	default:
		return []string{r.Prompt, r.Completion}
	}
}

// setTexts replaces the record's texts with ts (the same order as texts).
func (r *Record) setTexts(ts []string) {
	switch {
	case r.Messages != nil:
		r.System = ts[0]
		for i := range r.Messages {
			r.Messages[i].Content = ts[i+1]
		}
	case r.Input != "":
		r.Input = ts[0]
	default:
		r.Prompt, r.Completion = ts[0], ts[1]
	}
}

// PromptAndCompletion returns the text a model sees and the text it should produce:
// for a conversation, the system prompt and every turn before the last, and the last
// assistant turn; for continued pre-training, no prompt and the input.
func (r *Record) PromptAndCompletion() (prompt []string, completion string) {
	switch {
	case r.Messages != nil:
		if r.System != "" {
			prompt = append(prompt, r.System)
		}
		for _, m := range r.Messages[:len(r.Messages)-1] {
			prompt = append(prompt, m.Content)
		}
		return prompt, r.Messages[len(r.Messages)-1].Content
	case r.Input != "":
		return nil, r.Input
	default:
		return []string{r.Prompt}, r.Completion
	}
}
