package gateway

import (
	"fmt"

	"github.com/plinth-ai/plinth/shared/provider"
)

// MaxOutputTokensLimit bounds max_tokens and max_completion_tokens: far above any
// model's output, and small enough that no token or cost estimate can overflow.
const MaxOutputTokensLimit = 1 << 24

// validateChat checks a chat request against the OpenAI contract before anything is
// spent. framed says the platform frames the caller's messages, which may then be none.
func validateChat(req *provider.ChatRequest, framed bool) error {
	if req.Model == "" {
		return invalid("model", "you must provide a model parameter")
	}
	if len(req.Messages) == 0 && !framed {
		return invalid("messages", "messages must be a non-empty array")
	}
	for i := range req.Messages {
		msg := &req.Messages[i]
		param := fmt.Sprintf("messages[%d]", i)
		switch msg.Role {
		case "system", "developer", "user":
			if msg.Content.Null {
				return invalid(param+".content", "%s.content is required for role %q", param, msg.Role)
			}
		case "assistant":
			if msg.Content.Null && len(msg.ToolCalls) == 0 {
				return invalid(param+".content", "%s needs content or tool_calls", param)
			}
		case "tool":
			if msg.ToolCallID == "" {
				return invalid(param+".tool_call_id", "%s.tool_call_id is required for role \"tool\"", param)
			}
		case "function":
		case "":
			return invalid(param+".role", "%s.role is required", param)
		default:
			return invalid(param+".role", "%s.role %q is not one of system, developer, user, assistant, tool", param, msg.Role)
		}
		for j, p := range msg.Content.Parts {
			if p.Type == "" {
				return invalid(fmt.Sprintf("%s.content[%d].type", param, j), "content part type is required")
			}
		}
	}
	if req.N != nil && *req.N != 1 {
		return invalid("n", "only n=1 is supported")
	}
	if v := req.MaxTokens; v != nil && (*v < 1 || *v > MaxOutputTokensLimit) {
		return invalid("max_tokens", "max_tokens must be from 1 to %d", MaxOutputTokensLimit)
	}
	if v := req.MaxCompletionTokens; v != nil && (*v < 1 || *v > MaxOutputTokensLimit) {
		return invalid("max_completion_tokens", "max_completion_tokens must be from 1 to %d", MaxOutputTokensLimit)
	}
	if v := req.Temperature; v != nil && (*v < 0 || *v > 2) {
		return invalid("temperature", "temperature must be between 0 and 2")
	}
	if v := req.TopP; v != nil && (*v < 0 || *v > 1) {
		return invalid("top_p", "top_p must be between 0 and 1")
	}
	if len(req.Stop) > 4 {
		return invalid("stop", "at most 4 stop sequences are allowed")
	}
	for i, t := range req.Tools {
		if t.Type != "function" {
			return invalid(fmt.Sprintf("tools[%d].type", i), "tool type must be \"function\"")
		}
		if t.Function.Name == "" {
			return invalid(fmt.Sprintf("tools[%d].function.name", i), "tool function name is required")
		}
	}
	if req.StreamOptions != nil && !req.Stream {
		return invalid("stream_options", "stream_options is only allowed when stream is true")
	}
	return nil
}
