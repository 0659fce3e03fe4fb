package bedrock

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/plinth-ai/plinth/shared/provider"
)

// converseParts is a chat request in Converse's vocabulary.
type converseParts struct {
	system   []types.SystemContentBlock
	messages []types.Message
	infer    *types.InferenceConfiguration
	tools    *types.ToolConfiguration
}

// toConverse translates an OpenAI chat request. System (and developer) messages become
// system blocks; assistant tool_calls become toolUse blocks; tool messages become
// toolResult blocks in a user turn; consecutive turns of one role are merged, as
// Converse requires alternating roles.
func toConverse(req *provider.ChatRequest) (*converseParts, error) {
	if req.N != nil && *req.N > 1 {
		return nil, badRequest("Bedrock Converse supports n=1 only")
	}
	p := &converseParts{}
	usedTools := false
	for i := range req.Messages {
		m := &req.Messages[i]
		switch m.Role {
		case "system", "developer":
			if t := m.Content.String(); t != "" {
				p.system = append(p.system, &types.SystemContentBlockMemberText{Value: t})
			}
		case "user":
			blocks, err := userBlocks(m)
			if err != nil {
				return nil, err
			}
			p.add(types.ConversationRoleUser, blocks)
		case "assistant":
			var blocks []types.ContentBlock
			if t := m.Content.String(); t != "" {
				blocks = append(blocks, &types.ContentBlockMemberText{Value: t})
			}
			for _, tc := range m.ToolCalls {
				input, err := jsonDocument(tc.Function.Arguments, "{}")
				if err != nil {
					return nil, badRequest("tool call " + tc.ID + " has arguments that are not a JSON object")
				}
				blocks = append(blocks, &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
					ToolUseId: aws.String(tc.ID), Name: aws.String(tc.Function.Name), Input: input}})
				usedTools = true
			}
			if len(blocks) == 0 {
				continue
			}
			p.add(types.ConversationRoleAssistant, blocks)
		case "tool":
			if m.ToolCallID == "" {
				return nil, badRequest("a tool message needs tool_call_id")
			}
			result := types.ToolResultBlock{
				ToolUseId: aws.String(m.ToolCallID),
				Content:   []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: m.Content.String()}},
			}
			if m.ToolError {
				result.Status = types.ToolResultStatusError
			}
			p.add(types.ConversationRoleUser, []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: result}})
			usedTools = true
		default:
			return nil, badRequest("unsupported message role " + m.Role)
		}
	}
	if len(p.messages) == 0 {
		return nil, badRequest("Bedrock Converse needs at least one user message")
	}
	if mt := req.MaxOutputTokens(); mt > 0 || req.Temperature != nil || req.TopP != nil || len(req.Stop) > 0 {
		ic := &types.InferenceConfiguration{StopSequences: req.Stop}
		if mt > 0 {
			ic.MaxTokens = aws.Int32(int32(min(mt, 1<<31-1)))
		}
		if req.Temperature != nil {
			ic.Temperature = aws.Float32(float32(*req.Temperature))
		}
		if req.TopP != nil {
			ic.TopP = aws.Float32(float32(*req.TopP))
		}
		p.infer = ic
	}
	tc, err := toolConfig(req, usedTools)
	if err != nil {
		return nil, err
	}
	p.tools = tc
	return p, nil
}

func (p *converseParts) add(role types.ConversationRole, blocks []types.ContentBlock) {
	if n := len(p.messages); n > 0 && p.messages[n-1].Role == role {
		p.messages[n-1].Content = append(p.messages[n-1].Content, blocks...)
		return
	}
	p.messages = append(p.messages, types.Message{Role: role, Content: blocks})
}

func userBlocks(m *provider.Message) ([]types.ContentBlock, error) {
	if m.Content.Parts == nil {
		return []types.ContentBlock{&types.ContentBlockMemberText{Value: m.Content.Text}}, nil
	}
	var blocks []types.ContentBlock
	for _, part := range m.Content.Parts {
		switch part.Type {
		case "text":
			blocks = append(blocks, &types.ContentBlockMemberText{Value: part.Text})
		case "image_url":
			img, err := imageBlock(part.ImageURL)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, img)
		default:
			return nil, badRequest("content part type " + part.Type + " is not supported for Bedrock models")
		}
	}
	if len(blocks) == 0 {
		return nil, badRequest("a user message needs content")
	}
	return blocks, nil
}

// jsonDocument parses a JSON object into a Smithy document (empty text means def).
func jsonDocument(text, def string) (document.Interface, error) {
	if strings.TrimSpace(text) == "" {
		text = def
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, err
	}
	if v == nil {
		v = map[string]any{}
	}
	return document.NewLazyDocument(v), nil
}

// toolConfig translates tools and tool_choice. Converse has no "none": with
// tool_choice "none" the tools are left out unless the conversation already used
// them (Converse then requires the configuration), in which case "auto" stands in.
func toolConfig(req *provider.ChatRequest, usedTools bool) (*types.ToolConfiguration, error) {
	if len(req.Tools) == 0 {
		return nil, nil
	}
	choice := strings.TrimSpace(string(req.ToolChoice))
	if choice == `"none"` && !usedTools {
		return nil, nil
	}
	tc := &types.ToolConfiguration{}
	for _, t := range req.Tools {
		if t.Type != "" && t.Type != "function" {
			return nil, badRequest("tool type " + t.Type + " is not supported")
		}
		schema, err := jsonDocument(string(t.Function.Parameters), `{"type":"object","properties":{}}`)
		if err != nil {
			return nil, badRequest("tool " + t.Function.Name + " has parameters that are not a JSON Schema object")
		}
		spec := types.ToolSpecification{Name: aws.String(t.Function.Name), InputSchema: &types.ToolInputSchemaMemberJson{Value: schema}}
		if t.Function.Description != "" {
			spec.Description = aws.String(t.Function.Description)
		}
		tc.Tools = append(tc.Tools, &types.ToolMemberToolSpec{Value: spec})
	}
	switch choice {
	case "", "null", `"auto"`, `"none"`:
		tc.ToolChoice = &types.ToolChoiceMemberAuto{}
	case `"required"`:
		tc.ToolChoice = &types.ToolChoiceMemberAny{}
	default:
		var named struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(req.ToolChoice, &named); err != nil || named.Function.Name == "" {
			return nil, badRequest("tool_choice must be none, auto, required or a named function")
		}
		tc.ToolChoice = &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String(named.Function.Name)}}
	}
	return tc, nil
}

// fromConverse translates a Converse output message into an OpenAI message.
func fromConverse(msg *types.Message) (provider.Message, error) {
	out := provider.Message{Role: "assistant"}
	var text strings.Builder
	for _, b := range msg.Content {
		switch v := b.(type) {
		case *types.ContentBlockMemberText:
			text.WriteString(v.Value)
		case *types.ContentBlockMemberToolUse:
			args := "{}"
			if v.Value.Input != nil {
				raw, err := v.Value.Input.MarshalSmithyDocument()
				if err != nil {
					return out, err
				}
				args = string(raw)
			}
			out.ToolCalls = append(out.ToolCalls, provider.ToolCall{ID: aws.ToString(v.Value.ToolUseId), Type: "function",
				Function: provider.FunctionCall{Name: aws.ToString(v.Value.Name), Arguments: args}})
		}
	}
	if text.Len() == 0 && len(out.ToolCalls) > 0 {
		out.Content = provider.Content{Null: true}
	} else {
		out.Content = provider.TextContent(text.String())
	}
	return out, nil
}

func usageOf(u *types.TokenUsage) *provider.Usage {
	if u == nil {
		return nil
	}
	in, out := int(aws.ToInt32(u.InputTokens)), int(aws.ToInt32(u.OutputTokens))
	total := int(aws.ToInt32(u.TotalTokens))
	if total == 0 {
		total = in + out
	}
	return &provider.Usage{PromptTokens: in, CompletionTokens: out, TotalTokens: total}
}

// imageBlock turns an OpenAI image_url part holding a data URL into a Converse image
// block. Converse takes image bytes inline (or from S3), never a web URL.
func imageBlock(raw json.RawMessage) (types.ContentBlock, error) {
	var img struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(raw, &img); err != nil || img.URL == "" {
		return nil, badRequest("image_url needs a url")
	}
	meta, data, ok := strings.Cut(strings.TrimPrefix(img.URL, "data:"), ",")
	if !ok || !strings.HasPrefix(img.URL, "data:") || !strings.HasSuffix(meta, ";base64") {
		return nil, badRequest("Bedrock models take images as base64 data URLs (data:image/png;base64,...)")
	}
	var format types.ImageFormat
	switch strings.TrimSuffix(meta, ";base64") {
	case "image/png":
		format = types.ImageFormatPng
	case "image/jpeg", "image/jpg":
		format = types.ImageFormatJpeg
	case "image/gif":
		format = types.ImageFormatGif
	case "image/webp":
		format = types.ImageFormatWebp
	default:
		return nil, badRequest("image type " + meta + " is not supported; use png, jpeg, gif or webp")
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, badRequest("image data is not valid base64")
	}
	return &types.ContentBlockMemberImage{Value: types.ImageBlock{Format: format, Source: &types.ImageSourceMemberBytes{Value: b}}}, nil
}
