package localtune

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// magic starts every saved model.
const magic = "PLTUNE\x01\n"

// ErrCorrupt means a saved model could not be read back.
var ErrCorrupt = errors.New("localtune: corrupt model file")

// header is the JSON part of a saved model.
type header struct {
	Info    Info      `json:"info"`
	Words   []string  `json:"words"`
	Surface []string  `json:"surface"`
	Succ    [][]int32 `json:"succ"` // [prev, next...] rows; prev -2 is the start
	Common  []int32   `json:"common"`
	Bits    int       `json:"weight_bits"`
}

// Save writes the model: a JSON header (provenance and vocabulary) and the non-zero
// weights as little-endian (index uint32, value float32) pairs.
func (m *Model) Save(w io.Writer) error {
	bw := bufio.NewWriter(w)
	h := header{Info: m.Info, Words: m.vocab.words, Surface: m.vocab.surface, Common: m.vocab.common, Bits: weightBits}
	for prev, next := range m.vocab.succ {
		h.Succ = append(h.Succ, append([]int32{prev}, next...))
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode model header: %w", err)
	}
	nonzero := uint32(0)
	for _, v := range m.weights {
		if v != 0 {
			nonzero++
		}
	}
	if _, err := bw.WriteString(magic); err != nil {
		return err
	}
	if err := binary.Write(bw, binary.LittleEndian, uint32(len(hj))); err != nil {
		return err
	}
	if _, err := bw.Write(hj); err != nil {
		return err
	}
	if err := binary.Write(bw, binary.LittleEndian, nonzero); err != nil {
		return err
	}
	var pair [8]byte
	for i, v := range m.weights {
		if v == 0 {
			continue
		}
		binary.LittleEndian.PutUint32(pair[:4], uint32(i))
		binary.LittleEndian.PutUint32(pair[4:], math.Float32bits(v))
		if _, err := bw.Write(pair[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// maxHeaderBytes bounds the JSON header a model file may declare.
const maxHeaderBytes = 64 << 20

// Load reads a model written by Save.
func Load(r io.Reader) (*Model, error) {
	br := bufio.NewReader(r)
	got := make([]byte, len(magic))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != magic {
		return nil, fmt.Errorf("%w: not a local-tune model", ErrCorrupt)
	}
	var n uint32
	if err := binary.Read(br, binary.LittleEndian, &n); err != nil || n > maxHeaderBytes {
		return nil, fmt.Errorf("%w: bad header length", ErrCorrupt)
	}
	hj := make([]byte, n)
	if _, err := io.ReadFull(br, hj); err != nil {
		return nil, fmt.Errorf("%w: short header: %v", ErrCorrupt, err)
	}
	var h header
	if err := json.Unmarshal(hj, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if h.Bits != weightBits || len(h.Words) != len(h.Surface) {
		return nil, fmt.Errorf("%w: header describes an incompatible model", ErrCorrupt)
	}
	m := &Model{weights: make([]float32, 1<<weightBits), Info: h.Info}
	v := vocabulary{words: h.Words, surface: h.Surface, hashes: make([]uint64, len(h.Words)),
		index: make(map[uint64]int32, len(h.Words)), succ: make(map[int32][]int32, len(h.Succ)), common: h.Common}
	for i, w := range h.Words {
		v.hashes[i] = hashString(w)
		v.index[v.hashes[i]] = int32(i)
	}
	valid := func(id int32) bool { return id >= 0 && int(id) < len(h.Words) }
	for _, row := range h.Succ {
		if len(row) == 0 || (row[0] != bosWord && !valid(row[0])) {
			return nil, fmt.Errorf("%w: successor table", ErrCorrupt)
		}
		for _, id := range row[1:] {
			if !valid(id) {
				return nil, fmt.Errorf("%w: successor table", ErrCorrupt)
			}
		}
		v.succ[row[0]] = row[1:]
	}
	for _, id := range h.Common {
		if !valid(id) {
			return nil, fmt.Errorf("%w: common words", ErrCorrupt)
		}
	}
	m.vocab = v
	var count uint32
	if err := binary.Read(br, binary.LittleEndian, &count); err != nil || count > 1<<weightBits {
		return nil, fmt.Errorf("%w: bad weight count", ErrCorrupt)
	}
	var pair [8]byte
	for k := uint32(0); k < count; k++ {
		if _, err := io.ReadFull(br, pair[:]); err != nil {
			return nil, fmt.Errorf("%w: short weights: %v", ErrCorrupt, err)
		}
		idx := binary.LittleEndian.Uint32(pair[:4])
		if idx > weightMask {
			return nil, fmt.Errorf("%w: weight index %d", ErrCorrupt, idx)
		}
		m.weights[idx] = math.Float32frombits(binary.LittleEndian.Uint32(pair[4:]))
	}
	return m, nil
}
