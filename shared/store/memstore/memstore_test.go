package memstore_test

import (
	"testing"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/shared/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
}

func TestScanner(t *testing.T) {
	storetest.RunScanner(t, func(t *testing.T) store.Store { return memstore.New() })
}
