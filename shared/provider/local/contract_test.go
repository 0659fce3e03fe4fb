package local

import (
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

func TestChatContract(t *testing.T) {
	providertest.RunChatContract(t, func(*testing.T) provider.ChatModel { return NewChat() })
}

func TestEmbeddingContract(t *testing.T) {
	providertest.RunEmbeddingContract(t, func(*testing.T) provider.EmbeddingModel { return NewEmbed(64) })
}
