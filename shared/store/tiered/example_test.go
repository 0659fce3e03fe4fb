package tiered_test

import (
	"context"
	"fmt"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/store/tiered"
)

// Quota counters live in memory; the back store receives them on the next flush.
func Example() {
	ctx := context.Background()
	back := memstore.New() // local mode passes the boltstore.Store here
	s := tiered.New(back, tiered.WithPrefixes("QUOTA#", "USAGE", "CACHE#"))
	defer s.Close(ctx) // on shutdown: stop the flusher and write everything back

	k := store.Key{PK: "QUOTA#acme", SK: "minute#29000000"}
	it, err := s.Add(ctx, k, []store.Delta{{Name: "requests", By: 1, Max: 60, HasMax: true}}, store.AddOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("requests in memory:", it.Nums["requests"])

	if err := s.Flush(ctx); err != nil {
		fmt.Println(err)
		return
	}
	saved, err := back.Get(ctx, k)
	fmt.Println("requests in back store:", saved.Nums["requests"], err)
	// Output:
	// requests in memory: 1
	// requests in back store: 1 <nil>
}
