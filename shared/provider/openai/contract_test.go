package openai

import (
	"testing"

	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/provider/providertest"
)

func TestChatContract(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []Option
	}{{"lean client", nil}, {"net/http", []Option{WithStdlibHTTP()}}} {
		t.Run(tt.name, func(t *testing.T) {
			providertest.RunChatContract(t, func(t *testing.T) provider.ChatModel {
				srv := providertest.NewOpenAIServer(providertest.WithReply("It jumps over the lazy dog."))
				t.Cleanup(srv.Close)
				return New(srv.BaseURL(), "gpt-4o-mini", "k", tt.opts...)
			})
		})
	}
}

func TestEmbeddingContract(t *testing.T) {
	providertest.RunEmbeddingContract(t, func(t *testing.T) provider.EmbeddingModel {
		srv := providertest.NewOpenAIServer()
		t.Cleanup(srv.Close)
		return New(srv.BaseURL(), "text-embedding-3-small", "k", WithBase64Embeddings())
	})
}
