package dynamostore

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/plinth-ai/plinth/shared/store"
)

// Attribute names of the table layout.
const (
	// AttrPK is the partition key attribute (S).
	AttrPK = "pk"
	// AttrSK is the sort key attribute (S).
	AttrSK = "sk"
	// AttrData holds Item.Data (B), absent when Data is empty.
	AttrData = "data"
	// AttrVersion holds Item.Version (N).
	AttrVersion = "v"
	// AttrTTL holds the expiry in epoch seconds, rounded up (N): the table's DynamoDB TTL
	// attribute, so DynamoDB deletes expired items in the background.
	AttrTTL = "ttl"
	// AttrExpires holds the exact expiry in Unix nanoseconds (N); reads filter on it.
	AttrExpires = "exp"
	// CounterPrefix prefixes the attribute of each counter in Item.Nums (N).
	CounterPrefix = "n_"
)

func attrS(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }

func n(v string) *types.AttributeValueMemberN { return &types.AttributeValueMemberN{Value: v} }

func nInt(v int64) *types.AttributeValueMemberN { return n(strconv.FormatInt(v, 10)) }

// nFloat formats f as a DynamoDB number: plain decimal digits, no exponent.
func nFloat(f float64) *types.AttributeValueMemberN { return n(strconv.FormatFloat(f, 'f', -1, 64)) }

func keyAttrs(k store.Key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: attrS(k.PK), AttrSK: attrS(k.SK)}
}

func ttlSeconds(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

// encodeItem is the full attribute map of it.
func encodeItem(it store.Item) (map[string]types.AttributeValue, error) {
	av := keyAttrs(it.Key)
	av[AttrVersion] = nInt(it.Version)
	if len(it.Data) > 0 {
		av[AttrData] = &types.AttributeValueMemberB{Value: it.Data}
	}
	if !it.ExpiresAt.IsZero() {
		av[AttrExpires] = nInt(it.ExpiresAt.UnixNano())
		av[AttrTTL] = nInt(ttlSeconds(it.ExpiresAt))
	}
	for name, v := range it.Nums {
		if err := checkNum(name, v); err != nil {
			return nil, err
		}
		av[CounterPrefix+name] = nFloat(v)
	}
	return av, nil
}

func checkNum(name string, v float64) error {
	if name == "" {
		return fmt.Errorf("dynamostore: empty counter name")
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("dynamostore: counter %q is %v", name, v)
	}
	return nil
}

// decodeItem turns an attribute map back into an item.
func decodeItem(av map[string]types.AttributeValue) (store.Item, error) {
	var it store.Item
	for name, v := range av {
		var err error
		switch {
		case name == AttrPK:
			it.PK, err = str(v)
		case name == AttrSK:
			it.SK, err = str(v)
		case name == AttrData:
			b, ok := v.(*types.AttributeValueMemberB)
			if !ok {
				err = fmt.Errorf("not binary")
			} else if len(b.Value) > 0 {
				it.Data = b.Value
			}
		case name == AttrVersion:
			it.Version, err = integer(v)
		case name == AttrExpires:
			var ns int64
			if ns, err = integer(v); err == nil {
				it.ExpiresAt = time.Unix(0, ns)
			}
		case strings.HasPrefix(name, CounterPrefix):
			var f float64
			if f, err = float(v); err == nil {
				if it.Nums == nil {
					it.Nums = make(map[string]float64)
				}
				it.Nums[strings.TrimPrefix(name, CounterPrefix)] = f
			}
		}
		if err != nil {
			return it, fmt.Errorf("dynamostore: attribute %q: %w", name, err)
		}
	}
	return it, nil
}

func str(v types.AttributeValue) (string, error) {
	if sv, ok := v.(*types.AttributeValueMemberS); ok {
		return sv.Value, nil
	}
	return "", fmt.Errorf("not a string")
}

func integer(v types.AttributeValue) (int64, error) {
	nv, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	return strconv.ParseInt(nv.Value, 10, 64)
}

func float(v types.AttributeValue) (float64, error) {
	nv, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	return strconv.ParseFloat(nv.Value, 64)
}

// expr accumulates expression attribute names and values under generated placeholders.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// name returns the placeholder of attribute a.
func (e *expr) name(a string) string {
	for ph, v := range e.names {
		if v == a {
			return ph
		}
	}
	ph := "#a" + strconv.Itoa(len(e.names))
	e.names[ph] = a
	return ph
}

// value returns a placeholder bound to v.
func (e *expr) value(v types.AttributeValue) string {
	ph := ":v" + strconv.Itoa(len(e.values))
	e.values[ph] = v
	return ph
}

func (e *expr) attrNames() map[string]string {
	if len(e.names) == 0 {
		return nil
	}
	return e.names
}

func (e *expr) attrValues() map[string]types.AttributeValue {
	if len(e.values) == 0 {
		return nil
	}
	return e.values
}

// live is the condition "a live (unexpired) item has the key".
func (e *expr) live(now time.Time) string {
	exp := e.name(AttrExpires)
	return fmt.Sprintf("(attribute_exists(%s) AND (attribute_not_exists(%s) OR %s > %s))",
		e.name(AttrPK), exp, exp, e.value(nInt(now.UnixNano())))
}

// absent is the condition "no live item has the key".
func (e *expr) absent(now time.Time) string {
	return fmt.Sprintf("(attribute_not_exists(%s) OR %s <= %s)",
		e.name(AttrPK), e.name(AttrExpires), e.value(nInt(now.UnixNano())))
}

// unchanged is the condition "the stored item is exactly as read": cur is the raw stored
// item, expired or not, or nil when nothing is stored.
func (e *expr) unchanged(cur *store.Item) string {
	if cur == nil {
		return fmt.Sprintf("attribute_not_exists(%s)", e.name(AttrPK))
	}
	c := fmt.Sprintf("%s = %s", e.name(AttrVersion), e.value(nInt(cur.Version)))
	if cur.ExpiresAt.IsZero() {
		return c + fmt.Sprintf(" AND attribute_not_exists(%s)", e.name(AttrExpires))
	}
	return c + fmt.Sprintf(" AND %s = %s", e.name(AttrExpires), e.value(nInt(cur.ExpiresAt.UnixNano())))
}
