package bedrock

import (
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

func TestChatContract(t *testing.T) {
	providertest.RunChatContract(t, func(t *testing.T) provider.ChatModel {
		srv := providertest.NewBedrockServer(providertest.WithBedrockReply("It jumps over the lazy dog."))
		t.Cleanup(srv.Close)
		return NewChat(client(srv), claude)
	})
}

func TestEmbeddingContract(t *testing.T) {
	for _, model := range []string{"amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"} {
		t.Run(model, func(t *testing.T) {
			providertest.RunEmbeddingContract(t, func(t *testing.T) provider.EmbeddingModel {
				srv := providertest.NewBedrockServer()
				t.Cleanup(srv.Close)
				return NewEmbed(client(srv), model)
			})
		})
	}
}
