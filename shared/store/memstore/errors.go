package memstore

import (
	"fmt"

	"github.com/plinth-ai/plinth/shared/store"
)

func notFound(key store.Key) error {
	return fmt.Errorf("memstore: get %s/%s: %w", key.PK, key.SK, store.ErrNotFound)
}

func wrapKey(op string, key store.Key, err error) error {
	return fmt.Errorf("memstore: %s %s/%s: %w", op, key.PK, key.SK, err)
}
