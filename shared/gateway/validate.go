package gateway

import (
	"fmt"

	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
)

// MaxOutputTokensLimit bounds max_tokens and max_completion_tokens: far above any
// model's output, and small enough that no token or cost estimate can overflow.
const MaxOutputTokensLimit = 1 << 24

// validateChat checks a chat request against the OpenAI contract before anything is spent.
func validateChat(req *provider.ChatRequest) error {
	if req.Model == "" {
		return httpapi.BadRequest("model", "you must provide a model parameter")
	}
	if len(req.Messages) == 0 {
		return httpapi.BadRequest("messages", "messages must be a non-empty array")
	}
	for i := range req.Messages {
		msg := &req.Messages[i]
		param := fmt.Sprintf("messages[%d]", i)
		switch msg.Role {
		case "system", "developer", "user":
			if msg.Content.Null {
				return httpapi.BadRequest(param+".content", "%s.content is required for role %q", param, msg.Role)
			}
		case "assistant":
			if msg.Content.Null && len(msg.ToolCalls) == 0 {
				return httpapi.BadRequest(param+".content", "%s needs content or tool_calls", param)
			}
		case "tool":
			if msg.ToolCallID == "" {
				return httpapi.BadRequest(param+".tool_call_id", "%s.tool_call_id is required for role \"tool\"", param)
			}
		case "function":
		case "":
			return httpapi.BadRequest(param+".role", "%s.role is required", param)
		default:
			return httpapi.BadRequest(param+".role", "%s.role %q is not one of system, developer, user, assistant, tool", param, msg.Role)
		}
		for j, p := range msg.Content.Parts {
			if p.Type == "" {
				return httpapi.BadRequest(fmt.Sprintf("%s.content[%d].type", param, j), "content part type is required")
			}
		}
	}
	if req.N != nil && *req.N != 1 {
		return httpapi.BadRequest("n", "only n=1 is supported")
	}
	if v := req.MaxTokens; v != nil && (*v < 1 || *v > MaxOutputTokensLimit) {
		return httpapi.BadRequest("max_tokens", "max_tokens must be from 1 to %d", MaxOutputTokensLimit)
	}
	if v := req.MaxCompletionTokens; v != nil && (*v < 1 || *v > MaxOutputTokensLimit) {
		return httpapi.BadRequest("max_completion_tokens", "max_completion_tokens must be from 1 to %d", MaxOutputTokensLimit)
	}
	if v := req.Temperature; v != nil && (*v < 0 || *v > 2) {
		return httpapi.BadRequest("temperature", "temperature must be between 0 and 2")
	}
	if v := req.TopP; v != nil && (*v < 0 || *v > 1) {
		return httpapi.BadRequest("top_p", "top_p must be between 0 and 1")
	}
	if len(req.Stop) > 4 {
		return httpapi.BadRequest("stop", "at most 4 stop sequences are allowed")
	}
	for i, t := range req.Tools {
		if t.Type != "function" {
			return httpapi.BadRequest(fmt.Sprintf("tools[%d].type", i), "tool type must be \"function\"")
		}
		if t.Function.Name == "" {
			return httpapi.BadRequest(fmt.Sprintf("tools[%d].function.name", i), "tool function name is required")
		}
	}
	if req.StreamOptions != nil && !req.Stream {
		return httpapi.BadRequest("stream_options", "stream_options is only allowed when stream is true")
	}
	return nil
}
