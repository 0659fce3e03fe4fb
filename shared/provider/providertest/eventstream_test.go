package providertest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// TestEncodeEventMessage decodes the framing with the SDK's own decoder and checks the
// CRCs by hand.
func TestEncodeEventMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		msg     []byte
		headers map[string]string
		payload string
	}{
		{"event", EventMessage("contentBlockDelta", []byte(`{"contentBlockIndex":0,"delta":{"text":"Hi"}}`)),
			map[string]string{":event-type": "contentBlockDelta", ":content-type": "application/json", ":message-type": "event"},
			`{"contentBlockIndex":0,"delta":{"text":"Hi"}}`},
		{"exception", ExceptionMessage("throttlingException", `slow "down"`),
			map[string]string{":exception-type": "throttlingException", ":message-type": "exception"},
			`{"message":"slow \"down\""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.msg
			if total := binary.BigEndian.Uint32(b); int(total) != len(b) {
				t.Fatalf("total length %d, message %d bytes", total, len(b))
			}
			if crc := binary.BigEndian.Uint32(b[8:]); crc != crc32.ChecksumIEEE(b[:8]) {
				t.Error("prelude CRC mismatch")
			}
			if crc := binary.BigEndian.Uint32(b[len(b)-4:]); crc != crc32.ChecksumIEEE(b[:len(b)-4]) {
				t.Error("message CRC mismatch")
			}
			msg, err := eventstream.NewDecoder().Decode(bytes.NewReader(b), nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(msg.Payload) != tt.payload {
				t.Errorf("payload %s", msg.Payload)
			}
			for name, want := range tt.headers {
				v := msg.Headers.Get(name)
				if v == nil || v.String() != want {
					t.Errorf("header %s = %v, want %s", name, v, want)
				}
			}
		})
	}
}
