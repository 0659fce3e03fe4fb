package providertest

import (
	"encoding/binary"
	"hash/crc32"
)

// EventHeader is one string-valued header of an AWS event-stream message.
type EventHeader struct{ Name, Value string }

// EncodeEventMessage frames payload as one AWS event-stream message (the binary
// framing of Bedrock's ConverseStream and InvokeModelWithResponseStream):
//
//	prelude:  total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes
//	headers:  name length (uint8) | name | value type 7 = string (uint8) | value length (uint16) | value
//	payload
//	message CRC32 of everything before it
//
// All integers are big-endian; CRCs are IEEE CRC-32.
func EncodeEventMessage(headers []EventHeader, payload []byte) []byte {
	hlen := 0
	for _, h := range headers {
		hlen += 1 + len(h.Name) + 1 + 2 + len(h.Value)
	}
	total := 12 + hlen + len(payload) + 4
	b := make([]byte, 0, total)
	b = binary.BigEndian.AppendUint32(b, uint32(total))
	b = binary.BigEndian.AppendUint32(b, uint32(hlen))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[:8]))
	for _, h := range headers {
		b = append(b, byte(len(h.Name)))
		b = append(b, h.Name...)
		b = append(b, 7)
		b = binary.BigEndian.AppendUint16(b, uint16(len(h.Value)))
		b = append(b, h.Value...)
	}
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// EventMessage frames a Bedrock stream event (":message-type" event).
func EventMessage(eventType string, payload []byte) []byte {
	return EncodeEventMessage([]EventHeader{
		{":event-type", eventType},
		{":content-type", "application/json"},
		{":message-type", "event"},
	}, payload)
}

// ExceptionMessage frames a modelled exception sent mid-stream (":message-type"
// exception), e.g. exceptionType "throttlingException".
func ExceptionMessage(exceptionType, message string) []byte {
	return EncodeEventMessage([]EventHeader{
		{":exception-type", exceptionType},
		{":content-type", "application/json"},
		{":message-type", "exception"},
	}, []byte(`{"message":`+quote(message)+`}`))
}

func quote(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b = append(b, '\\', byte(r))
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, '"'))
}
