package providertest

import (
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	t.Parallel()
	kinds := map[FaultKind]bool{}
	for _, name := range FaultNames {
		f, err := ParseFault(name, 2, time.Second)
		if err != nil || f.Kind == FaultNone || f.After != 2 {
			t.Errorf("%s: %+v %v", name, f, err)
		}
		kinds[f.Kind] = true
	}
	if len(kinds) != int(FaultNoDone) {
		t.Errorf("the names cover %d fault kinds, want all %d", len(kinds), FaultNoDone)
	}
	if _, err := ParseFault("gremlins", 0, 0); err == nil {
		t.Error("an unknown fault parsed")
	}
}
