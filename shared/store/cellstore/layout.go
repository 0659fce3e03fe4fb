package cellstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/plinth-ai/plinth/shared/store"
)

type placeKind int

const (
	central placeKind = iota
	tenantInPK
	tenantInSK
	ownedBy
)

// Placement says in which cell a partition's records live.
type Placement struct {
	kind     placeKind
	skPrefix string
	fields   [][]string
	shared   bool   // data naming no owner is the platform's
	listedIn string // the listing whose item <id> names the owner of partition <prefix><id>
}

// ListedIn says whose an OwnedBy partition <prefix><id> is when none of its items name
// an owner: the owner item <id> of the listing partition pk names (REVIEWQ#<queue> is
// listed in REVIEWQ). The router needs it only to move a tenant's records.
func (p Placement) ListedIn(pk string) Placement {
	p.listedIn = pk
	return p
}

// Central places records in the central store: the platform's own (its tenant
// directory, credentials, registry, audit trail), whoever they are about.
func Central() Placement { return Placement{kind: central} }

// TenantInPK places each record in the cell of the tenant its partition key names right
// after the rule's prefix (up to the next '#', or the end): QUOTA#<tenant>,
// RAGDOC#<tenant>#<kb>.
func TenantInPK() Placement { return Placement{kind: tenantInPK} }

// TenantInSK is for a partition tenants share whose sort keys name the tenant after
// prefix (EVAL#SUITES with SUITE#<tenant>#<id>): each item lives in its tenant's cell; a
// query whose prefix names a tenant reads that cell, any other reads every cell. Sort
// keys without the prefix are the platform's.
func TenantInSK(prefix string) Placement { return Placement{kind: tenantInSK, skPrefix: prefix} }

// OwnedBy is for partitions keyed by an ID (EVAL#RUN#<run>) and for listings tenants
// share (AGENT#INDEX): an item whose data names its owner at the first present of
// fields (dotted JSON paths such as "job.organization_id") lives in that tenant's cell
// ("" names the platform: the central store); an item whose data names none lives where
// its key or partition already does, else with the owner the write's context names
// (store.WithOwner). Reads visit every cell.
func OwnedBy(fields ...string) Placement {
	p := Placement{kind: ownedBy}
	for _, f := range fields {
		p.fields = append(p.fields, strings.Split(f, "."))
	}
	return p
}

// OwnedOrShared is OwnedBy for definitions a tenant owns or the platform shares
// (guardrail policies, prompts): every item's data names its owner at the first present
// of fields, and data naming none (or "") is the platform's, in the central store.
func OwnedOrShared(fields ...string) Placement {
	p := OwnedBy(fields...)
	p.shared = true
	return p
}

// Rule places the partition PK, or every partition whose key starts with PK when PK
// ends with '#'.
type Rule struct {
	PK    string
	Place Placement
}

// Layout is the placement of every partition: exact partition keys first, then the
// longest matching prefix, then the default.
type Layout struct {
	exact    map[string]Placement
	prefixes []Rule // longest first
	def      Placement
}

// NewLayout returns the layout of rules, placing partitions no rule names by def. A
// partition named twice is an error.
func NewLayout(def Placement, rules ...Rule) (*Layout, error) {
	l := &Layout{exact: map[string]Placement{}, def: def}
	seen := map[string]bool{}
	for _, r := range rules {
		if r.PK == "" {
			return nil, fmt.Errorf("cellstore: a rule without a partition key")
		}
		if seen[r.PK] {
			return nil, fmt.Errorf("cellstore: partition %q placed twice", r.PK)
		}
		seen[r.PK] = true
		if r.Place.kind == tenantInSK && r.Place.skPrefix == "" {
			return nil, fmt.Errorf("cellstore: partition %q: TenantInSK needs a sort-key prefix", r.PK)
		}
		if strings.HasSuffix(r.PK, "#") {
			l.prefixes = append(l.prefixes, r)
		} else {
			l.exact[r.PK] = r.Place
		}
	}
	sort.SliceStable(l.prefixes, func(i, j int) bool { return len(l.prefixes[i].PK) > len(l.prefixes[j].PK) })
	return l, nil
}

// match returns the placement of partition pk and the prefix that matched ("" for an
// exact partition or the default).
func (l *Layout) match(pk string) (Placement, string) {
	if p, ok := l.exact[pk]; ok {
		return p, ""
	}
	for _, r := range l.prefixes {
		if strings.HasPrefix(pk, r.PK) {
			return r.Place, r.PK
		}
	}
	return l.def, ""
}

// segment is s after prefix up to the next '#'.
func segment(s, prefix string) string {
	rest := s[len(prefix):]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// owner returns the tenant data names at the first present of fields.
func owner(data []byte, fields [][]string) (string, bool) {
	if len(data) == 0 || data[0] != '{' {
		return "", false
	}
	for _, path := range fields {
		raw := json.RawMessage(data)
		found := true
		for _, name := range path {
			var obj map[string]json.RawMessage
			if json.Unmarshal(raw, &obj) != nil {
				found = false
				break
			}
			v, ok := obj[name]
			if !ok {
				found = false
				break
			}
			raw = v
		}
		if !found {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, true
		}
		if string(raw) == "null" {
			return "", true
		}
	}
	return "", false
}

// TenantItems returns the items of partition pk in st that are the tenant's, as the
// layout places them: every item of a partition named by the tenant, the items of a
// shared partition whose sort key or data names it, the items of a partition keyed by
// an ID whose owner it is. Moving a tenant between cells copies exactly these.
func (l *Layout) TenantItems(ctx context.Context, st store.Store, tenant, pk string) ([]store.Item, error) {
	p, prefix := l.match(pk)
	switch p.kind {
	case tenantInPK:
		if segment(pk, prefix) != tenant {
			return nil, nil
		}
		return st.Query(ctx, pk, store.QueryOptions{})
	case tenantInSK:
		return st.Query(ctx, pk, store.QueryOptions{Prefix: p.skPrefix + tenant + "#"})
	case ownedBy:
	default:
		return nil, nil
	}
	items, err := st.Query(ctx, pk, store.QueryOptions{})
	if err != nil || len(items) == 0 {
		return nil, err
	}
	// The partition's owner: the first item naming one, else its listing's item.
	partOwner, known := "", false
	for _, it := range items {
		if t, ok := owner(it.Data, p.fields); ok {
			partOwner, known = t, true
			break
		}
	}
	if !known && p.listedIn != "" && prefix != "" {
		it, err := st.Get(ctx, store.Key{PK: p.listedIn, SK: pk[len(prefix):]})
		switch {
		case err == nil:
			partOwner, known = owner(it.Data, p.fields)
		case !errorsIsNotFound(err):
			return nil, err
		}
	}
	var out []store.Item
	for _, it := range items {
		t, ok := owner(it.Data, p.fields)
		switch {
		case ok:
		case p.shared:
			t = ""
		case known:
			t = partOwner
		default:
			continue
		}
		if t == tenant {
			out = append(out, it)
		}
	}
	return out, nil
}

func errorsIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
