package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/boltstore"
)

// A quota reservation: the bound check and the increment are one atomic Add.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "plinth")
	defer os.RemoveAll(dir)
	s, err := boltstore.Open(filepath.Join(dir, "plinth.db"))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	window := store.Key{PK: "quota#acme", SK: "tokens#2026-01-01T10:00"}
	for _, tokens := range []float64{600, 300, 200} {
		it, err := s.Add(ctx, window, []store.Delta{{Name: "tokens", By: tokens, Max: 1000, HasMax: true}}, store.AddOptions{})
		switch {
		case errors.Is(err, store.ErrConditionFailed):
			fmt.Printf("reserve %v: over quota\n", tokens)
		case err != nil:
			panic(err)
		default:
			fmt.Printf("reserve %v: used %v\n", tokens, it.Nums["tokens"])
		}
	}
	// Output:
	// reserve 600: used 600
	// reserve 300: used 900
	// reserve 200: over quota
}
