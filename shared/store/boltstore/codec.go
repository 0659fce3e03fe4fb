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

func encodeRecord(it store.Item) []byte {
	size := 1 + 3*binary.MaxVarintLen64 + len(it.Data) + binary.MaxVarintLen64
	for name := range it.Nums {
		size += binary.MaxVarintLen64 + len(name) + 8
	}
	b := make([]byte, 0, size)
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
