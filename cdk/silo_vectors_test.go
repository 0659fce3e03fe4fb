package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// siloVectorsPlatform synthesizes vectorBackend=s3vectors with a silo and a pool tenant
// declared (nag on) once.
func siloVectorsPlatform(t *testing.T) *synthesized {
	t.Helper()
	return variant(t, "silo-vectors", map[string]any{"vectorBackend": VectorBackendS3Vectors,
		"tenants": `[{"id":"` + siloTenant + `","tier":"silo"},{"id":"` + poolTenant + `","tier":"pool"}]`})
}

// TestSiloTenantVectorBucket: with S3 Vectors, a silo tenant has a vector bucket of its
// own encrypted with its own key (which S3 Vectors' indexing may use for this account's
// vector buckets), named to the functions in PLINTH_SILO_TENANTS; each function may do on
// the silo's kb- indexes exactly what it may do on the pool's, and the functions that do
// not touch vectors get nothing on it. The platform without S3 Vectors gives silo tenants
// no vector bucket.
func TestSiloTenantVectorBucket(t *testing.T) {
	if tiered := tieredPlatform(t); tiered.platform.Data.Silos[0].Vectors != nil ||
		len(resources(tiered.raw["data"], "AWS::S3Vectors::VectorBucket")) != 0 {
		t.Fatal("a silo tenant got a vector bucket on the embedded vector backend")
	}
	s := siloVectorsPlatform(t)
	p, data := s.platform, s.raw["data"]
	silo := p.Data.Silos[0]
	if silo.Vectors == nil {
		t.Fatal("the silo tenant has no vector bucket")
	}
	siloKey, poolKey := logicalID(p.Data.Stack, silo.Key.KeyArn()), logicalID(p.Data.Stack, p.Data.Key.KeyArn())
	siloBucket, poolBucket := logicalID(p.Data.Stack, silo.Vectors.AttrVectorBucketArn()), logicalID(p.Data.Stack, p.Data.Vectors.AttrVectorBucketArn())
	buckets := resources(data, "AWS::S3Vectors::VectorBucket")
	if len(buckets) != 2 || buckets[siloBucket] == nil || buckets[poolBucket] == nil {
		t.Fatalf("vector buckets %v, want the pool's %s and the silo's %s", sortedKeys(buckets), poolBucket, siloBucket)
	}
	enc := jsonText(props(buckets[siloBucket])["EncryptionConfiguration"])
	if !containsAll(enc, `"SseType":"aws:kms"`, siloKey) || strings.Contains(enc, poolKey) {
		t.Errorf("silo vector bucket encryption %s, want SSE-KMS with the silo key %s", enc, siloKey)
	}
	if enc := jsonText(props(buckets[poolBucket])["EncryptionConfiguration"]); strings.Contains(enc, siloKey) {
		t.Errorf("the pool's vector bucket uses the silo key: %s", enc)
	}
	if name := jsonText(props(buckets[siloBucket])["VectorBucketName"]); !strings.Contains(name, "plinth-vec-"+siloTenant) {
		t.Errorf("silo vector bucket name %s", name)
	}
	if buckets[siloBucket]["DeletionPolicy"] != "Retain" {
		t.Errorf("silo vector bucket deletion policy %v, want Retain", buckets[siloBucket]["DeletionPolicy"])
	}
	policy := jsonText(props(resources(data, "AWS::KMS::Key")[siloKey])["KeyPolicy"])
	if !containsAll(policy, `"Service":"indexing.s3vectors.amazonaws.com"`, `"aws:SourceAccount"`, `:s3vectors:`) {
		t.Errorf("the silo key does not let S3 Vectors' indexing decrypt for this account's vector buckets: %s", policy)
	}

	type fn struct {
		raw  map[string]any
		role string
		want []string
	}
	api, wf := s.raw["api"], s.raw["workflows"]
	apiRole := func(name string) string { return logicalID(p.API.Stack, p.API.Functions[name].Role.RoleArn()) }
	taskRole := func(name string) string {
		return logicalID(p.Workflows.Stack, p.Workflows.TaskFunctions[name].Role.RoleArn())
	}
	fns := map[string]fn{
		"gateway":    {api, apiRole("gateway"), vectorsRead},
		"retrieval":  {api, apiRole("retrieval"), vectorsRead},
		"admin":      {api, apiRole("admin"), vectorsDrop},
		"index":      {wf, taskRole("IndexFunctionArn"), vectorsWrite},
		"target":     {wf, taskRole("InvokeTargetFunctionArn"), vectorsRead},
		"guardrails": {api, apiRole("guardrails"), nil},
		"authorizer": {api, apiRole("authorizer"), nil},
		"usage":      {api, apiRole("usage"), nil},
	}
	for name, f := range fns {
		t.Run(name, func(t *testing.T) {
			on := func(bucket string) map[string]bool {
				got := map[string]bool{}
				for _, stmt := range statementsOn(f.raw, f.role, bucket) {
					for _, a := range list(stmt["Action"]) {
						if action := a.(string); strings.HasPrefix(action, "s3vectors:") {
							got[action] = true
							if res := jsonText(stmt["Resource"]); !strings.Contains(res, "/index/kb-*") {
								t.Errorf("%s on %s, want the kb- indexes only", action, res)
							}
						}
					}
				}
				return got
			}
			silo, pool := on(siloBucket), on(poolBucket)
			if len(silo) != len(f.want) || len(pool) != len(f.want) {
				t.Errorf("s3vectors actions on the silo's bucket %v, on the pool's %v, want exactly %v on each", sortedKeys(silo), sortedKeys(pool), f.want)
			}
			for _, a := range f.want {
				if !silo[a] {
					t.Errorf("missing %s on the silo's vector indexes (have %v)", a, sortedKeys(silo))
				}
			}
			if len(f.want) > 0 && !allowsOn(f.raw, f.role, siloKey, "kms:Decrypt") {
				t.Errorf("cannot decrypt with the silo key")
			}
		})
	}

	// Every function that serves tenants is told the silo's vector bucket.
	for _, name := range []string{"gateway", "retrieval", "admin"} {
		env := props(resources(api, "AWS::Lambda::Function")[logicalID(p.API.Stack, p.API.Functions[name].Function.FunctionArn())])["Environment"].(map[string]any)["Variables"].(map[string]any)
		text := jsonText(env[SiloTenantsEnv])
		i := strings.Index(text, `\"vector_bucket\":\"`)
		if i < 0 || !strings.Contains(text[i:], "plinth-vec-"+siloTenant) {
			t.Errorf("%s: %s = %s, no vector_bucket naming the silo's vector bucket", name, SiloTenantsEnv, text)
		}
	}
	index := p.Workflows.TaskFunctions["IndexFunctionArn"]
	env := jsonText(props(resources(wf, "AWS::Lambda::Function")[logicalID(p.Workflows.Stack, index.Function.FunctionArn())])["Environment"])
	if !strings.Contains(env, "plinth-vec-"+siloTenant) {
		t.Errorf("the index task is not told the silo's vector bucket: %s", env)
	}
}

// TestSiloVectorsPlatformPassesNag: the silo tenant's vector bucket and grants leave no
// unsuppressed cdk-nag finding.
func TestSiloVectorsPlatformPassesNag(t *testing.T) {
	s := siloVectorsPlatform(t)
	for name, stack := range s.platform.stacks() {
		ann := assertions.Annotations_FromStack(stack)
		for _, f := range append(*ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))),
			*ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))...) {
			//lint:ignore SA1019 the assertions API still returns this type in CDK 2.275
			t.Errorf("%s: unsuppressed cdk-nag finding at %s: %v", name, *f.Id, f.Entry.Data)
		}
	}
}
