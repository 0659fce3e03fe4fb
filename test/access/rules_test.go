package access

import (
	"strings"

	"github.com/plinth-ai/plinth/shared/access"
)

type docRule struct {
	roles, scopes, tenant string
	sharedRead            bool
}

// ruleFor is the enforced rule of a route pattern, as the documentation writes it.
func ruleFor(pattern string) (docRule, bool) {
	r, ok := access.RuleFor(pattern)
	if !ok {
		return docRule{}, false
	}
	roles := make([]string, 0, len(r.DocRoles()))
	for _, x := range r.DocRoles() {
		roles = append(roles, string(x))
	}
	scopes := make([]string, 0, len(r.Scopes))
	for _, s := range r.Scopes {
		scopes = append(scopes, string(s))
	}
	return docRule{roles: strings.Join(roles, ","), scopes: strings.Join(scopes, ","), tenant: r.DocTenant(), sharedRead: r.SharedRead}, true
}

func allPatterns() []string { return access.Patterns() }
