package main

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestPoolTenantDataRole: a pool tenant declared with an account gets a role that account
// may assume, reading the shared table only in the tenant's own partitions (LeadingKeys)
// and the documents bucket only under its own prefix, decrypting only through DynamoDB
// and S3.
func TestPoolTenantDataRole(t *testing.T) {
	s := tieredPlatform(t)
	data := s.platform.Data
	raw := s.raw["data"]
	role, ok := data.TenantDataRoles[poolTenant]
	if !ok {
		t.Fatalf("no data role for %s (roles %v)", poolTenant, sortedKeys(data.TenantDataRoles))
	}
	roleID := logicalID(data.Stack, role.RoleArn())
	res := raw["Resources"].(map[string]any)[roleID].(map[string]any)
	if name := props(res)["RoleName"]; name != TenantDataRoleName(poolTenant) {
		t.Errorf("role name %v", name)
	}
	if trust := jsonText(props(res)["AssumeRolePolicyDocument"]); !strings.Contains(trust, ":iam::"+poolAccount+":root") {
		t.Errorf("trust policy %s does not admit account %s", trust, poolAccount)
	}
	tableID := logicalID(data.Stack, data.Table.TableArn())
	docsID := logicalID(data.Stack, data.Documents.BucketArn())
	var sawTable, sawObjects, sawList, sawKey bool
	for _, st := range policyOfRole(raw, roleID) {
		text := jsonText(st)
		for _, a := range list(st["Action"]) {
			if a == "dynamodb:Scan" || a == "dynamodb:PutItem" || a == "s3:PutObject" || a == "*" {
				t.Errorf("data role allows %v", a)
			}
		}
		switch {
		case refersTo(st["Resource"], tableID):
			sawTable = true
			cond, _ := st["Condition"].(map[string]any)["ForAllValues:StringLike"].(map[string]any)
			keys := list(cond["dynamodb:LeadingKeys"])
			if len(keys) != len(TenantReadablePartitions) {
				t.Errorf("table statement without the tenant's leading keys: %s", text)
			}
			for _, k := range keys {
				ks := k.(string)
				if !strings.Contains(ks, "#"+poolTenant) || strings.HasPrefix(ks, "*") {
					t.Errorf("leading key pattern %q is not within %s's partitions", ks, poolTenant)
				}
			}
		case hasAction(st, "s3:GetObject"):
			sawObjects = true
			if !refersTo(st["Resource"], docsID) || !strings.Contains(text, "/"+DocumentsPrefix+poolTenant+"/*") {
				t.Errorf("object read outside tenants/%s/: %s", poolTenant, text)
			}
		case hasAction(st, "s3:ListBucket"):
			sawList = true
			if !strings.Contains(text, `"s3:prefix":["`+DocumentsPrefix+poolTenant+`/"`) {
				t.Errorf("listing without the tenant's prefix condition: %s", text)
			}
		case hasAction(st, "kms:Decrypt"):
			sawKey = true
			if !strings.Contains(text, "kms:ViaService") {
				t.Errorf("key use not limited to DynamoDB and S3: %s", text)
			}
		}
	}
	if !sawTable || !sawObjects || !sawList || !sawKey {
		t.Errorf("statements: table %v objects %v list %v key %v", sawTable, sawObjects, sawList, sawKey)
	}

	// The silo tenant has no account here, so no role; the hybrid tenant has one, on the
	// pool's partitions (its central records are pooled).
	if _, ok := data.TenantDataRoles[siloTenant]; ok {
		t.Errorf("silo tenant without an account got a data role")
	}
	if _, ok := data.TenantDataRoles[hybridTenant]; !ok {
		t.Errorf("hybrid tenant has no data role")
	}
	// Patterns never reach another tenant whose id starts with this one's.
	for _, k := range leadingKeys("acme") {
		if like(k, "USAGE#acme-eu#20260101") || like(k, "RAGKB#acme-eu") {
			t.Errorf("pattern %q matches tenant acme-eu's partitions", k)
		}
	}
	if !like(leadingKeys("acme")[0], "USAGE#acme#20260101") {
		t.Errorf("pattern %q does not match acme's own usage partition", leadingKeys("acme")[0])
	}
}

// like is IAM's StringLike for these patterns (* only, values without "/").
func like(pattern, s string) bool {
	ok, _ := path.Match(pattern, s)
	return ok
}

// TestTenantPartitionPrefixes: the partitions the data role opens are the ones the
// runtime writes, so a renamed prefix fails here rather than silently closing the role.
func TestTenantPartitionPrefixes(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	err = filepath.Walk(filepath.Join(root, "shared"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		src.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code := src.String()
	for _, p := range TenantReadablePartitions {
		if !strings.Contains(code, `"`+p.Prefix+`#" + tenant`) && !strings.Contains(code, `"`+p.Prefix+`#"+tenant`) {
			t.Errorf("no partition key %q + tenant in shared/", p.Prefix+"#")
		}
	}
}
