package providertest

import (
	"bytes"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// EventHeader is one string-valued header of an AWS event-stream message.
type EventHeader struct{ Name, Value string }

// EncodeEventMessage frames payload as one AWS event-stream message (the binary
// framing of Bedrock's ConverseStream and InvokeModelWithResponseStream) with the
// SDK's own encoder, so the fake speaks exactly what the SDK's decoder reads.
func EncodeEventMessage(headers []EventHeader, payload []byte) []byte {
	msg := eventstream.Message{Payload: payload}
	for _, h := range headers {
		msg.Headers.Set(h.Name, eventstream.StringValue(h.Value))
	}
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, msg); err != nil {
		// Only oversized headers or payloads fail; the fake never builds those.
		panic("providertest: encode event-stream message: " + err.Error())
	}
	return b.Bytes()
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

// quote is s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
