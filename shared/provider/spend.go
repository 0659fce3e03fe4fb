package provider

// Spend is what one upstream attempt of a request consumed, for accounting.
type Spend struct {
	// ModelID and DeploymentID name the registry model and deployment that served the attempt.
	ModelID      string
	DeploymentID string
	Usage        Usage
	// Estimated is true when the upstream reported no usage (the stream was cut before
	// its usage chunk) and Usage holds an over-estimate instead.
	Estimated bool
}

// RoutedStream is a Stream served by one or more upstream attempts. A router returns
// one: when an attempt fails mid-way it continues the answer on another deployment or a
// fallback model, so the model producing the chunks can change during the stream. The
// stream ends with a single usage chunk (no choices) that sums every attempt.
type RoutedStream interface {
	Stream
	// Model names the model (its registry ID) that produced the chunk Recv returned last.
	Model() string
	// Deployment names that model's deployment.
	Deployment() string
	// Spend lists, in order, what each attempt that streamed consumed. It is complete
	// once Recv has returned io.EOF or an error.
	Spend() []Spend
}

// EstimatePromptTokens over-approximates a request's prompt tokens without a tokenizer:
// about one token per three bytes (common BPE vocabularies average four for English),
// plus per-message framing.
func EstimatePromptTokens(req *ChatRequest) int {
	n := 3
	for i := range req.Messages {
		msg := &req.Messages[i]
		n += 4 + EstimateTextTokens(msg.Content.Text)
		for _, p := range msg.Content.Parts {
			n += EstimateTextTokens(p.Text)
		}
		for _, tc := range msg.ToolCalls {
			n += (len(tc.Function.Name)+len(tc.Function.Arguments))/3 + 4
		}
	}
	for _, t := range req.Tools {
		n += (len(t.Function.Name)+len(t.Function.Description)+len(t.Function.Parameters))/3 + 8
	}
	return n
}

// EstimateTextTokens over-approximates the tokens of a text: one per three bytes, plus one.
func EstimateTextTokens(s string) int { return (len(s) + 3) / 3 }
