package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// Declared tenants of the tiered platform.
const (
	siloTenant    = "globex"
	hybridTenant  = "initech"
	hybridAccount = "222222222222"
	poolTenant    = "acme"
	poolAccount   = "333333333333"
)

// tieredPlatform synthesizes the platform with a silo, a hybrid and a pool tenant
// declared (nag on) once.
func tieredPlatform(t *testing.T) *synthesized {
	t.Helper()
	return variant(t, "tiered", map[string]any{"tenants": `[{"id":"` + siloTenant + `","tier":"silo"},` +
		`{"id":"` + hybridTenant + `","tier":"hybrid","account":"` + hybridAccount + `"},` +
		`{"id":"` + poolTenant + `","tier":"pool","account":"` + poolAccount + `"}]`})
}

// refersTo reports whether a template value refers to a logical ID: directly (Ref,
// GetAtt) or through a cross-stack import, whose export name embeds the ID.
func refersTo(v any, logicalID string) bool {
	return strings.Contains(jsonText(v), logicalID)
}

// statementsOn lists a role's statements whose resources refer to a logical ID.
func statementsOn(tpl map[string]any, roleID, target string) []map[string]any {
	var out []map[string]any
	for _, s := range policyOfRole(tpl, roleID) {
		if refersTo(s["Resource"], target) {
			out = append(out, s)
		}
	}
	return out
}

// allowsOn reports whether any of a role's statements on target allows action.
func allowsOn(tpl map[string]any, roleID, target, action string) bool {
	for _, s := range statementsOn(tpl, roleID, target) {
		if hasAction(s, action) {
			return true
		}
	}
	return false
}

// TestSiloTenantResources: a silo tenant has its own rotating key, and its own table and
// buckets encrypted with that key and no other; the pool's resources do not use it.
func TestSiloTenantResources(t *testing.T) {
	s := tieredPlatform(t)
	data := s.platform.Data
	if len(data.Silos) != 1 || data.Silos[0].ID != siloTenant {
		t.Fatalf("silos = %v, want [%s]", data.Silos, siloTenant)
	}
	silo := data.Silos[0]
	raw := s.raw["data"]
	keyID := logicalID(data.Stack, silo.Key.KeyArn())
	poolKeyID := logicalID(data.Stack, data.Key.KeyArn())
	tableID := logicalID(data.Stack, silo.Table.TableArn())
	if keyID == "" || keyID == poolKeyID || tableID == "" {
		t.Fatalf("silo key %q (pool key %q), table %q", keyID, poolKeyID, tableID)
	}

	key := raw["Resources"].(map[string]any)[keyID].(map[string]any)
	if props(key)["EnableKeyRotation"] != true || key["DeletionPolicy"] != "Retain" {
		t.Errorf("silo key: rotation %v, deletion policy %v; want rotation on and retained", props(key)["EnableKeyRotation"], key["DeletionPolicy"])
	}
	aliases := resources(raw, "AWS::KMS::Alias")
	found := false
	for _, a := range aliases {
		if props(a)["AliasName"] == "alias/plinth/silo/"+siloTenant && getAttTarget(props(a)["TargetKeyId"]) == keyID {
			found = true
		}
	}
	if !found {
		t.Errorf("no alias/plinth/silo/%s on the silo key among %v", siloTenant, aliases)
	}

	table := raw["Resources"].(map[string]any)[tableID].(map[string]any)
	sse, _ := props(table)["SSESpecification"].(map[string]any)
	if getAttTarget(sse["KMSMasterKeyId"]) != keyID || table["DeletionPolicy"] != "Retain" {
		t.Errorf("silo table SSE %v, deletion policy %v; want the silo key, retained", sse, table["DeletionPolicy"])
	}
	if ks := jsonText(props(table)["KeySchema"]); !containsAll(ks, `"pk"`, `"sk"`) {
		t.Errorf("silo table key schema %s, want the pool's pk/sk", ks)
	}

	// Every bucket is encrypted with exactly one key: the silo's four with the silo key,
	// the pool's with the pool key (or SSE-S3 for access logs).
	siloBuckets := map[string]bool{}
	for _, b := range []*string{silo.Documents.BucketArn(), silo.Index.BucketArn(), silo.EvalArtifacts.BucketArn(), silo.Customization.BucketArn()} {
		siloBuckets[logicalID(data.Stack, b)] = true
	}
	for id, b := range resources(raw, "AWS::S3::Bucket") {
		enc := jsonText(props(b)["BucketEncryption"])
		switch {
		case siloBuckets[id] && !strings.Contains(enc, keyID):
			t.Errorf("silo bucket %s: encryption %s, want the silo key", id, enc)
		case !siloBuckets[id] && strings.Contains(enc, keyID):
			t.Errorf("pool bucket %s uses the silo key", id)
		}
	}
	if len(siloBuckets) != 4 {
		t.Errorf("silo buckets = %v, want documents, index, eval artifacts and customisation", siloBuckets)
	}
	for id, tbl := range resources(raw, "AWS::DynamoDB::Table") {
		if id != tableID && refersTo(props(tbl)["SSESpecification"], keyID) {
			t.Errorf("table %s other than the silo's uses the silo key", id)
		}
	}
	// The trail records the silo buckets' object-level events too.
	trail := jsonText(resources(raw, "AWS::CloudTrail::Trail"))
	for id := range siloBuckets {
		if !strings.Contains(trail, id) {
			t.Errorf("trail has no data events for silo bucket %s", id)
		}
	}
}

// TestSiloTenantGrants: the tenant-facing functions reach the silo table and buckets
// with the same access they have on the pool's, and the silo key; the authorizer, which
// reads only the control plane's key records, does not.
func TestSiloTenantGrants(t *testing.T) {
	s := tieredPlatform(t)
	data, api := s.platform.Data, s.platform.API
	silo := data.Silos[0]
	tableID := logicalID(data.Stack, silo.Table.TableArn())
	keyID := logicalID(data.Stack, silo.Key.KeyArn())
	docsID := logicalID(data.Stack, silo.Documents.BucketArn())
	evalID := logicalID(data.Stack, silo.EvalArtifacts.BucketArn())
	raw := s.raw["api"]
	role := func(fn string) string { return logicalID(api.Stack, api.Functions[fn].Role.RoleArn()) }

	for _, fn := range []string{"gateway", "retrieval", "admin", "usage"} {
		if !allowsOn(raw, role(fn), tableID, "dynamodb:PutItem") || !allowsOn(raw, role(fn), tableID, "dynamodb:Query") {
			t.Errorf("%s: no read-write access to the silo table", fn)
		}
		if !allowsOn(raw, role(fn), keyID, "kms:Decrypt") || !allowsOn(raw, role(fn), keyID, "kms:GenerateDataKey") {
			t.Errorf("%s: cannot use the silo key", fn)
		}
	}
	if !allowsOn(raw, role("guardrails"), tableID, "dynamodb:GetItem") || allowsOn(raw, role("guardrails"), tableID, "dynamodb:PutItem") {
		t.Errorf("guardrails: want read-only access to the silo table")
	}
	if n := len(statementsOn(raw, role("authorizer"), tableID)) + len(statementsOn(raw, role("authorizer"), keyID)); n != 0 {
		t.Errorf("authorizer: %d statements on the silo's table or key, want none", n)
	}
	// Retrieval writes documents under tenants/ only; admin reads them; gateway writes
	// evaluation artifacts.
	if !allowsOn(raw, role("retrieval"), docsID, "s3:PutObject") {
		t.Errorf("retrieval cannot write the silo's documents")
	}
	for _, st := range statementsOn(raw, role("retrieval"), docsID) {
		if hasAction(st, "s3:PutObject") && !strings.Contains(jsonText(st["Resource"]), "/"+DocumentsPrefix+"*") {
			t.Errorf("retrieval writes the silo's documents outside %s: %s", DocumentsPrefix, jsonText(st["Resource"]))
		}
	}
	if !allowsOn(raw, role("admin"), docsID, "s3:GetObject") {
		t.Errorf("admin cannot read the silo's documents")
	}
	// The admin function writes the silo's buckets only to move the tenant in
	// (TestSiloTenantMoveGrants).
	for _, st := range statementsOn(raw, role("admin"), docsID) {
		if hasAction(st, "s3:PutObject") && !strings.Contains(jsonText(st["Resource"]), "/"+siloTenant+"/*") {
			t.Errorf("admin writes the silo's documents outside the tenant's prefixes: %s", jsonText(st["Resource"]))
		}
	}
	if !allowsOn(raw, role("gateway"), evalID, "s3:PutObject") {
		t.Errorf("gateway cannot write the silo's evaluation artifacts")
	}

	// Ingestion tasks write the silo table and its index bucket; the documents rule
	// starts ingestion for the silo's documents bucket too.
	flows := s.platform.Workflows
	wraw := s.raw["workflows"]
	indexFn := flows.TaskFunctions["IndexFunctionArn"]
	if indexFn == nil {
		t.Fatal("no IndexFunctionArn task")
	}
	indexRole := logicalID(flows.Stack, indexFn.Role.RoleArn())
	if !allowsOn(wraw, indexRole, logicalID(data.Stack, silo.Index.BucketArn()), "s3:PutObject") || !allowsOn(wraw, indexRole, tableID, "dynamodb:PutItem") {
		t.Errorf("index task cannot write the silo's index bucket and table")
	}
	rule := props(resources(wraw, "AWS::Events::Rule")[logicalID(flows.Stack, flows.DocumentsRule.RuleArn())])
	if names := jsonText(rule["EventPattern"]); !strings.Contains(names, docsID) {
		t.Errorf("documents rule pattern %s does not match the silo's documents bucket", names)
	}
}

// TestSiloTenantEnvironment: every function that serves tenants knows where the silo
// tenant's data is: PLINTH_SILO_TENANTS maps its id to its table and buckets.
func TestSiloTenantEnvironment(t *testing.T) {
	s := tieredPlatform(t)
	data, api := s.platform.Data, s.platform.API
	silo := data.Silos[0]
	want := map[string]string{
		"table":            logicalID(data.Stack, silo.Table.TableArn()),
		"documents_bucket": logicalID(data.Stack, silo.Documents.BucketArn()),
		"index_bucket":     logicalID(data.Stack, silo.Index.BucketArn()),
		"eval_bucket":      logicalID(data.Stack, silo.EvalArtifacts.BucketArn()),
	}
	for _, fn := range []string{"gateway", "retrieval", "admin", "guardrails", "usage"} {
		id := logicalID(api.Stack, api.Functions[fn].Function.FunctionArn())
		env := props(resources(s.raw["api"], "AWS::Lambda::Function")[id])["Environment"].(map[string]any)["Variables"].(map[string]any)
		v, ok := env[SiloTenantsEnv]
		if !ok {
			t.Errorf("%s: no %s", fn, SiloTenantsEnv)
			continue
		}
		// The value is a Fn::Join of the JSON text around the resources' names; check the
		// literal parts put each name under its tenant and field.
		text := jsonText(v)
		if !strings.Contains(text, `{\"`+siloTenant+`\":{`) {
			t.Errorf("%s: %s = %s, no entry for %s", fn, SiloTenantsEnv, text, siloTenant)
		}
		for field, target := range want {
			i := strings.Index(text, `\"`+field+`\":\"`)
			if i < 0 || !strings.Contains(text[i:], target) {
				t.Errorf("%s: %s lacks %s (%s)", fn, SiloTenantsEnv, field, target)
			}
		}
	}
	// Without silo tenants the variable is absent.
	base := platform(t)
	gw := logicalID(base.platform.API.Stack, base.platform.API.Functions["gateway"].Function.FunctionArn())
	env := props(resources(base.raw["api"], "AWS::Lambda::Function")[gw])["Environment"].(map[string]any)["Variables"].(map[string]any)
	if _, ok := env[SiloTenantsEnv]; ok {
		t.Errorf("the default platform sets %s", SiloTenantsEnv)
	}
}

// TestTieredPlatformPassesNag: the declared tenants' resources and grants pass the
// AwsSolutions checks like the rest (every finding fixed or suppressed with a reason).
func TestTieredPlatformPassesNag(t *testing.T) {
	s := tieredPlatform(t)
	for name, stack := range s.platform.stacks() {
		ann := assertions.Annotations_FromStack(stack)
		for _, e := range *ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
			//lint:ignore SA1019 the assertions API still returns this type in CDK 2.275
			t.Errorf("%s: unsuppressed cdk-nag error at %s: %v", name, *e.Id, e.Entry.Data)
		}
		for _, w := range *ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
			//lint:ignore SA1019 the assertions API still returns this type in CDK 2.275
			t.Errorf("%s: unsuppressed cdk-nag warning at %s: %v", name, *w.Id, w.Entry.Data)
		}
	}
}

// TestSiloTenantCustomization: a silo tenant has a fine-tuning bucket of its own,
// encrypted with its own key and no bucket key, refusing objects under any other key;
// the fine-tuning function and the customisation tasks that read or write datasets reach
// it on the pool's terms (objects under tenants/, the key only through S3 for those
// objects), functions without fine-tuning and Bedrock's job role do not; the functions
// find it and its key in PLINTH_SILO_TENANTS.
func TestSiloTenantCustomization(t *testing.T) {
	s := tieredPlatform(t)
	p := s.platform
	data, silo := p.Data, p.Data.Silos[0]
	if silo.Customization == nil {
		t.Fatal("the silo tenant has no customisation bucket")
	}
	bucketID := logicalID(data.Stack, silo.Customization.BucketArn())
	keyID := logicalID(data.Stack, silo.Key.KeyArn())
	b := resources(s.raw["data"], "AWS::S3::Bucket")[bucketID]
	enc := jsonText(props(b)["BucketEncryption"])
	if !containsAll(enc, keyID, `"BucketKeyEnabled":false`) || b["DeletionPolicy"] != "Retain" {
		t.Errorf("silo customisation bucket encryption %s, deletion %v; want the silo key without a bucket key, retained", enc, b["DeletionPolicy"])
	}
	var deny string
	for _, bp := range resources(s.raw["data"], "AWS::S3::BucketPolicy") {
		if refersTo(props(bp)["Bucket"], bucketID) {
			deny = jsonText(props(bp)["PolicyDocument"])
		}
	}
	if !containsAll(deny, `"Sid":"DenyOtherKeys"`, `"Effect":"Deny"`, keyID) {
		t.Errorf("the silo customisation bucket does not refuse other keys: %s", deny)
	}

	api, wf := s.raw["api"], s.raw["workflows"]
	apiRole := func(fn string) string { return logicalID(p.API.Stack, p.API.Functions[fn].Role.RoleArn()) }
	taskRole := func(fn string) string {
		return logicalID(p.Workflows.Stack, p.Workflows.TaskFunctions[fn].Role.RoleArn())
	}
	writers := map[string][2]string{"finetuning": {"api", apiRole("finetuning")}, "validate": {"workflows", taskRole("ValidateFunctionArn")},
		"cleanup": {"workflows", taskRole("CleanupFunctionArn")}}
	tpl := map[string]map[string]any{"api": api, "workflows": wf}
	for name, r := range writers {
		raw, role := tpl[r[0]], r[1]
		if !allowsOn(raw, role, bucketID, "s3:PutObject") || !allowsOn(raw, role, bucketID, "s3:GetObject") {
			t.Errorf("%s cannot read and write the silo's customisation bucket", name)
		}
		for _, st := range statementsOn(raw, role, bucketID) {
			if hasAction(st, "s3:PutObject") && !strings.Contains(jsonText(st["Resource"]), "/"+CustomizationPrefix+"*") {
				t.Errorf("%s writes the silo's customisation bucket outside %s: %s", name, CustomizationPrefix, jsonText(st["Resource"]))
			}
		}
		scoped := false
		for _, st := range statementsOn(raw, role, keyID) {
			c := jsonText(st["Condition"])
			if hasAction(st, "kms:GenerateDataKey") && containsAll(c, "kms:ViaService", "kms:EncryptionContext:aws:s3:arn", bucketID) {
				scoped = true
			}
		}
		if !scoped {
			t.Errorf("%s: no use of the silo key scoped to its customisation objects through S3", name)
		}
	}
	if !allowsOn(wf, taskRole("PrepareEvaluationFunctionArn"), bucketID, "s3:GetObject") ||
		allowsOn(wf, taskRole("PrepareEvaluationFunctionArn"), bucketID, "s3:PutObject") {
		t.Errorf("the evaluation preparation task: want read-only access to the silo's customisation bucket")
	}
	for _, name := range []string{"guardrails", "authorizer", "retrieval"} {
		if n := len(statementsOn(api, apiRole(name), bucketID)); n != 0 {
			t.Errorf("%s has %d statements on the silo's customisation bucket, want none", name, n)
		}
	}
	if n := len(statementsOn(wf, logicalID(p.Workflows.Stack, p.Workflows.CustomizationJobRole.RoleArn()), bucketID)); n != 0 {
		t.Errorf("Bedrock's job role has %d statements on the silo's customisation bucket, want none", n)
	}

	env := props(resources(api, "AWS::Lambda::Function")[logicalID(p.API.Stack, p.API.Functions["finetuning"].Function.FunctionArn())])["Environment"].(map[string]any)["Variables"].(map[string]any)
	text := jsonText(env[SiloTenantsEnv])
	for field, target := range map[string]string{"customization_bucket": bucketID, "customization_key": keyID} {
		i := strings.Index(text, `\"`+field+`\":\"`)
		if i < 0 || !strings.Contains(text[i:], target) {
			t.Errorf("finetuning: %s lacks %s (%s): %s", SiloTenantsEnv, field, target, text)
		}
	}
}

// TestSiloTenantMoveGrants: the admin function, which moves a pool tenant into the silo
// resources deployed for it, may read and delete that tenant's objects in the pool's
// buckets and write them into the silo's, under the tenant's own prefixes only; no other
// function gets either.
func TestSiloTenantMoveGrants(t *testing.T) {
	s := tieredPlatform(t)
	p := s.platform
	data, silo := p.Data, p.Data.Silos[0]
	raw := s.raw["api"]
	role := func(fn string) string { return logicalID(p.API.Stack, p.API.Functions[fn].Role.RoleArn()) }
	type pair struct{ pool, silo *string }
	for _, b := range []pair{{data.Documents.BucketArn(), silo.Documents.BucketArn()}, {data.Index.BucketArn(), silo.Index.BucketArn()},
		{data.EvalArtifacts.BucketArn(), silo.EvalArtifacts.BucketArn()}, {data.Customization.BucketArn(), silo.Customization.BucketArn()}} {
		poolID, siloID := logicalID(data.Stack, b.pool), logicalID(data.Stack, b.silo)
		if !allowsOn(raw, role("admin"), poolID, "s3:DeleteObject") || !allowsOn(raw, role("admin"), siloID, "s3:PutObject") {
			t.Errorf("admin cannot move objects from %s to %s", poolID, siloID)
		}
		for _, id := range []string{poolID, siloID} {
			if id == logicalID(data.Stack, data.EvalArtifacts.BucketArn()) || id == logicalID(data.Stack, silo.EvalArtifacts.BucketArn()) {
				continue // the admin function writes evaluation artefacts anyway (suites, datasets)
			}
			for _, st := range statementsOn(raw, role("admin"), id) {
				if hasAction(st, "s3:DeleteObject") || hasAction(st, "s3:PutObject") {
					for _, r := range list(st["Resource"]) {
						if text := jsonText(r); strings.Contains(text, id) && !strings.Contains(text, "/"+siloTenant+"/*") {
							t.Errorf("admin may write or delete %s outside the tenant's prefixes: %s", id, text)
						}
					}
				}
			}
		}
		for _, fn := range []string{"guardrails", "authorizer", "usage"} {
			if allowsOn(raw, role(fn), poolID, "s3:DeleteObject") || allowsOn(raw, role(fn), siloID, "s3:PutObject") {
				t.Errorf("%s may move objects between %s and %s", fn, poolID, siloID)
			}
		}
	}
}
