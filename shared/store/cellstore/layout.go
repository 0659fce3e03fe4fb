package cellstore

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
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
	shared   bool // data naming no owner is the platform's
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
