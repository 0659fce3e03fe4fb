package access

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/test/e2e/platformtest"
)

const (
	tableStart = "<!-- access-table:start -->"
	tableEnd   = "<!-- access-table:end -->"
)

// accessTable renders the documented access of every operation as the README's table.
func accessTable(ops []documented) string {
	roles := []string{"platform-admin", "auditor", "tenant-admin", "developer", "viewer"}
	var b strings.Builder
	b.WriteString("| Route | Platform admin | Auditor | Tenant admin | Developer | Viewer | Tenant | Scopes (any) |\n")
	b.WriteString("|---|:-:|:-:|:-:|:-:|:-:|---|---|\n")
	for _, op := range ops {
		fmt.Fprintf(&b, "| `%s %s` |", op.method, op.path)
		for _, r := range roles {
			mark := " "
			if slices.Contains(op.access.Roles, r) {
				mark = "✓"
			}
			fmt.Fprintf(&b, " %s |", mark)
		}
		tenant := op.access.Tenant
		if op.access.SharedRead {
			tenant += " (shared: read)"
		}
		fmt.Fprintf(&b, " %s | %s |\n", tenant, strings.Join(op.access.Scopes, ", "))
	}
	return b.String()
}

// TestREADMEAccessTable: the README's access table is the OpenAPI document's, which is
// the policy's (TestDocumentedAsEnforced). PLINTH_UPDATE_README=1 rewrites it.
func TestREADMEAccessTable(t *testing.T) {
	root, err := platformtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "README.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, tableStart), strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %s … %s section", tableStart, tableEnd)
	}
	want := accessTable(operations(t))
	got := strings.TrimPrefix(readme[i+len(tableStart):j], "\n")
	if got == want {
		return
	}
	if os.Getenv("PLINTH_UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(readme[:i+len(tableStart)]+"\n"+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("README.md access table rewritten")
		return
	}
	t.Fatalf("README.md's access table differs from the OpenAPI document's x-plinth-access; regenerate it with PLINTH_UPDATE_README=1 go test ./test/access/ -run TestREADMEAccessTable\n--- README\n%s\n--- document\n%s", got, want)
}
