package mcpclient

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Protocol revisions spoken.
const (
	Modern = "2026-07-28"
	Legacy = "2025-11-25"
)

// message is one JSON-RPC 2.0 message in any of its forms.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *RPCError       `json:"error,omitempty"`
}

func (m *message) isResponse() bool     { return m.Method == "" && len(m.ID) > 0 }
func (m *message) isNotification() bool { return m.Method != "" && len(m.ID) == 0 }

// RPCError is a JSON-RPC error an upstream answered with. Callers pass it on unchanged.
type RPCError struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("upstream error %d: %s", e.Code, e.Message) }

// errTooLarge is returned when a response exceeds the read cap.
var errTooLarge = errors.New("response exceeds the size cap")

// cappedReader fails with errTooLarge once more than n bytes were read.
type cappedReader struct {
	r io.Reader
	n int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		var one [1]byte
		if k, _ := c.r.Read(one[:]); k > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	return k, err
}

// event is one server-sent event.
type event struct {
	id    string
	data  []byte
	retry int
}

// sseReader reads server-sent events (text/event-stream).
type sseReader struct {
	br *bufio.Reader
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{br: bufio.NewReaderSize(r, 16<<10)} }

// next returns the next event; io.EOF at the end of the stream.
func (s *sseReader) next() (event, error) {
	var ev event
	var data bytes.Buffer
	seen := false
	for {
		line, err := s.br.ReadBytes('\n')
		if err != nil && (err != io.EOF || len(line) == 0) {
			if err == io.EOF && seen {
				ev.data = data.Bytes()
				return ev, nil
			}
			return ev, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if seen {
				ev.data = data.Bytes()
				return ev, nil
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		seen = true
		switch string(field) {
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
		case "id":
			ev.id = string(value)
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil {
				ev.retry = n
			}
		}
	}
}

// headerName returns the JSON-RPC params member that a request's Mcp-Name header mirrors.
func headerName(method string, params json.RawMessage) (string, bool) {
	var p struct {
		Name string `json:"name"`
		URI  string `json:"uri"`
	}
	switch method {
	case "tools/call", "prompts/get":
		if json.Unmarshal(params, &p) == nil {
			return p.Name, true
		}
	case "resources/read":
		if json.Unmarshal(params, &p) == nil {
			return p.URI, true
		}
	}
	return "", false
}

// encodeHeaderValue encodes a value for an Mcp-Param header: plain when it is printable
// ASCII without surrounding whitespace, else as =?base64?…?=.
func encodeHeaderValue(s string) string {
	plain := s == strings.TrimSpace(s)
	for i := 0; plain && i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			plain = false
		}
	}
	if plain {
		return s
	}
	return "=?base64?" + base64Std(s) + "?="
}
