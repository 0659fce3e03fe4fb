package audit

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// NewID returns an event ID for t that sorts by time: "evt_", 16 hex digits of t's Unix
// nanoseconds, then 8 random hex digits.
func NewID(t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("evt_%016x%s", uint64(t.UnixNano()), hex.EncodeToString(r[:]))
}

// validID accepts what NewID makes.
func validID(id string) bool {
	rest, ok := strings.CutPrefix(id, "evt_")
	if !ok || len(rest) != 24 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}
