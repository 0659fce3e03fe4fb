package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
)

// Keys are uvarint(len(PK)) | PK | SK: a partition's items are contiguous and ordered by
// SK, so a Query is one cursor scan, and no PK can be a prefix of another's encoding.

func partitionPrefix(pk string) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(pk))
	b = binary.AppendUvarint(b, uint64(len(pk)))
	return append(b, pk...)
}

func encodeKey(k store.Key) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(k.PK)+len(k.SK))
	b = binary.AppendUvarint(b, uint64(len(k.PK)))
	b = append(b, k.PK...)
	return append(b, k.SK...)
}

var errCorrupt = errors.New("boltstore: corrupt record")

// Records are: format byte | uvarint version | varint expiry (Unix ns, 0 = none) |
// uvarint len(data)+1 (0 = nil) | data | uvarint count | count × (uvarint len | name | float64 bits).
const recordFormat = 1

// appendHead appends a record's format byte, version, expiry and data: everything before
// its counters.
func appendHead(b []byte, it store.Item) []byte {
	b = append(b, recordFormat)
	b = binary.AppendUvarint(b, uint64(it.Version))
	var exp int64
	if !it.ExpiresAt.IsZero() {
		exp = it.ExpiresAt.UnixNano()
	}
	b = binary.AppendVarint(b, exp)
	if it.Data == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(it.Data))+1)
		b = append(b, it.Data...)
	}
	return b
}

func encodeRecord(it store.Item) []byte {
	size := 1 + 3*binary.MaxVarintLen64 + len(it.Data) + binary.MaxVarintLen64
	for name := range it.Nums {
		size += binary.MaxVarintLen64 + len(name) + 8
	}
	b := make([]byte, 0, size)
	b = appendHead(b, it)
	b = binary.AppendUvarint(b, uint64(len(it.Nums)))
	for name, v := range it.Nums {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// decodeRecord decodes b (owned by bbolt, valid only within the transaction) into a fresh item.
func decodeRecord(key store.Key, b []byte) (store.Item, error) {
	it := store.Item{Key: key}
	if len(b) == 0 || b[0] != recordFormat {
		return it, fmt.Errorf("%w: format", errCorrupt)
	}
	b = b[1:]
	ver, w := binary.Uvarint(b)
	if w <= 0 {
		return it, errCorrupt
	}
	b = b[w:]
	it.Version = int64(ver)
	exp, w := binary.Varint(b)
	if w <= 0 {
		return it, errCorrupt
	}
	b = b[w:]
	if exp != 0 {
		it.ExpiresAt = time.Unix(0, exp)
	}
	dl, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w)+1 < dl {
		return it, errCorrupt
	}
	b = b[w:]
	if dl > 0 {
		it.Data = append([]byte(nil), b[:dl-1]...)
		b = b[dl-1:]
	}
	count, w := binary.Uvarint(b)
	if w <= 0 {
		return it, errCorrupt
	}
	b = b[w:]
	if count > 0 {
		if count > uint64(len(b)) {
			return it, errCorrupt
		}
		it.Nums = make(map[string]float64, count)
		for range count {
			nl, w := binary.Uvarint(b)
			if w <= 0 || uint64(len(b)-w) < nl+8 {
				return it, errCorrupt
			}
			b = b[w:]
			name := string(b[:nl])
			it.Nums[name] = math.Float64frombits(binary.LittleEndian.Uint64(b[nl:]))
			b = b[nl+8:]
		}
	}
	return it, nil
}

// recordExpired reads only the expiry of an encoded record, so scans skip expired items
// without decoding them.
func recordExpired(b []byte, now int64) bool {
	if len(b) < 2 {
		return false
	}
	_, w := binary.Uvarint(b[1:])
	if w <= 0 {
		return false
	}
	exp, w2 := binary.Varint(b[1+w:])
	return w2 > 0 && exp != 0 && now >= exp
}

// recordParts are an encoded record's fields, located without decoding them: data and
// nums alias the record.
type recordParts struct {
	version uint64
	exp     int64
	data    []byte // nil when the item has none
	count   uint64
	nums    []byte // count × (uvarint len | name | float64 bits)
}

func splitRecord(b []byte) (recordParts, error) {
	var p recordParts
	if len(b) == 0 || b[0] != recordFormat {
		return p, fmt.Errorf("%w: format", errCorrupt)
	}
	b = b[1:]
	var w int
	if p.version, w = binary.Uvarint(b); w <= 0 {
		return p, errCorrupt
	}
	b = b[w:]
	if p.exp, w = binary.Varint(b); w <= 0 {
		return p, errCorrupt
	}
	b = b[w:]
	dl, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w)+1 < dl {
		return p, errCorrupt
	}
	b = b[w:]
	if dl > 0 {
		p.data = b[: dl-1 : dl-1]
		b = b[dl-1:]
	}
	if p.count, w = binary.Uvarint(b); w <= 0 {
		return p, errCorrupt
	}
	p.nums = b[w:]
	if p.count > uint64(len(p.nums)) {
		return p, errCorrupt
	}
	return p, nil
}

// nextNum reads one counter off nums: its name, its value's bits and the rest.
func nextNum(nums []byte) (name []byte, bits uint64, rest []byte, err error) {
	nl, w := binary.Uvarint(nums)
	if w <= 0 || uint64(len(nums)-w) < nl+8 {
		return nil, 0, nil, errCorrupt
	}
	nums = nums[w:]
	return nums[:nl], binary.LittleEndian.Uint64(nums[nl:]), nums[nl+8:], nil
}

// decodeHeader decodes the record's version, expiry and data (aliasing b, so valid only
// within the transaction) and, of its counters, only those named: what a transaction's
// conditions and counter changes read, without decoding a counter per minute of a day.
func decodeHeader(key store.Key, b []byte, names []store.Delta) (store.Item, error) {
	it := store.Item{Key: key}
	p, err := splitRecord(b)
	if err != nil {
		return it, err
	}
	it.Version = int64(p.version)
	if p.exp != 0 {
		it.ExpiresAt = time.Unix(0, p.exp)
	}
	it.Data = p.data
	if len(names) == 0 || p.count == 0 {
		return it, nil
	}
	nums := p.nums
	for range p.count {
		name, bits, rest, err := nextNum(nums)
		if err != nil {
			return it, err
		}
		nums = rest
		for _, d := range names {
			if d.Name == string(name) {
				if it.Nums == nil {
					it.Nums = make(map[string]float64, len(names))
				}
				it.Nums[d.Name] = math.Float64frombits(bits)
				break
			}
		}
	}
	return it, nil
}

// encodeMerged encodes it, whose Nums hold only some of the counters, over the live
// record old: old's other counters are carried over as they are, it's counters replace
// those of the same name or are appended.
func encodeMerged(it store.Item, old []byte) ([]byte, error) {
	p, err := splitRecord(old)
	if err != nil {
		return nil, err
	}
	// Which of it's counters old has (a record's counter names are distinct).
	var smallNames [8]string
	var smallFound [8]bool
	names, found := smallNames[:0], smallFound[:0]
	if len(it.Nums) > len(smallNames) {
		names, found = make([]string, 0, len(it.Nums)), make([]bool, len(it.Nums))
	}
	for name := range it.Nums {
		names = append(names, name)
	}
	found = found[:len(names)]
	added := len(names)
	nums := p.nums
	for range p.count {
		name, _, rest, err := nextNum(nums)
		if err != nil {
			return nil, err
		}
		nums = rest
		if _, ok := it.Nums[string(name)]; !ok {
			continue
		}
		for i, n := range names {
			if n == string(name) {
				found[i] = true
				added--
				break
			}
		}
	}

	size := 1 + 3*binary.MaxVarintLen64 + len(it.Data) + binary.MaxVarintLen64 + len(p.nums)
	for name := range it.Nums {
		size += binary.MaxVarintLen64 + len(name) + 8
	}
	b := make([]byte, 0, size)
	b = appendHead(b, it)
	b = binary.AppendUvarint(b, p.count+uint64(added))
	nums = p.nums
	for range p.count {
		name, bits, rest, _ := nextNum(nums)
		if v, ok := it.Nums[string(name)]; ok {
			bits = math.Float64bits(v)
		}
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.LittleEndian.AppendUint64(b, bits)
		nums = rest
	}
	if added == 0 {
		return b, nil
	}
	for i, name := range names {
		if found[i] {
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(it.Nums[name]))
	}
	return b, nil
}
