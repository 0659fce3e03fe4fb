package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// vectorsPlatform synthesizes the vectorBackend=s3vectors variant (nag on) once.
func vectorsPlatform(t *testing.T) *synthesized {
	t.Helper()
	return variant(t, "vectors", map[string]any{"vectorBackend": VectorBackendS3Vectors})
}

// TestS3VectorsBackend: with vectorBackend s3vectors the data stack has a KMS-encrypted
// vector bucket whose key only S3 Vectors' indexing may use for this account's buckets;
// every function learns the bucket and the default backend; each role may do exactly
// its part on the platform's kb- indexes: ingestion writes, the gateway, retrieval and
// evaluation targets query, the admin API drops. The default platform has none of it.
func TestS3VectorsBackend(t *testing.T) {
	if n := len(resources(platform(t).raw["data"], "AWS::S3Vectors::VectorBucket")); n != 0 {
		t.Fatalf("the default platform has %d vector buckets", n)
	}
	s := vectorsPlatform(t)
	data, p := s.raw["data"], s.platform
	buckets := resources(data, "AWS::S3Vectors::VectorBucket")
	if len(buckets) != 1 {
		t.Fatalf("vector buckets = %d", len(buckets))
	}
	keyID := logicalID(p.Data.Stack, p.Data.Key.KeyArn())
	for _, b := range buckets {
		enc := jsonText(props(b)["EncryptionConfiguration"])
		if !strings.Contains(enc, `"SseType":"aws:kms"`) || !strings.Contains(enc, keyID) {
			t.Errorf("vector bucket encryption %s, want SSE-KMS with the platform key", enc)
		}
	}
	policy := jsonText(props(resources(data, "AWS::KMS::Key")[keyID])["KeyPolicy"])
	if !containsAll(policy, `"Service":"indexing.s3vectors.amazonaws.com"`, `"aws:SourceAccount"`, `:s3vectors:`) {
		t.Errorf("the key policy does not let S3 Vectors' indexing decrypt for this account's vector buckets: %s", policy)
	}

	roles := map[string]struct {
		raw  map[string]any
		role string
		want []string
	}{
		"gateway":   {s.raw["api"], logicalID(p.API.Stack, p.API.Functions["gateway"].Role.RoleArn()), vectorsRead},
		"retrieval": {s.raw["api"], logicalID(p.API.Stack, p.API.Functions["retrieval"].Role.RoleArn()), vectorsRead},
		"admin":     {s.raw["api"], logicalID(p.API.Stack, p.API.Functions["admin"].Role.RoleArn()), vectorsDrop},
		"index":     {s.raw["workflows"], logicalID(p.Workflows.Stack, p.Workflows.TaskFunctions["IndexFunctionArn"].Role.RoleArn()), vectorsWrite},
		"target":    {s.raw["workflows"], logicalID(p.Workflows.Stack, p.Workflows.TaskFunctions["InvokeTargetFunctionArn"].Role.RoleArn()), vectorsRead},
	}
	for name, r := range roles {
		t.Run(name, func(t *testing.T) {
			got := map[string]bool{}
			for _, stmt := range policyOfRole(r.raw, r.role) {
				for _, a := range list(stmt["Action"]) {
					if action := a.(string); strings.HasPrefix(action, "s3vectors:") {
						got[action] = true
						if res := jsonText(stmt["Resource"]); !strings.Contains(res, "/index/kb-*") {
							t.Errorf("%s on %s, want the platform's kb- indexes only", action, res)
						}
					}
				}
			}
			if len(got) != len(r.want) {
				t.Errorf("s3vectors actions %v, want exactly %v", sortedKeys(got), r.want)
			}
			for _, a := range r.want {
				if !got[a] {
					t.Errorf("missing %s (have %v)", a, sortedKeys(got))
				}
			}
		})
	}
	for binary, f := range p.API.Functions {
		if binary == "usage" || binary == "authorizer" {
			continue
		}
		env := jsonText(props(resources(s.raw["api"], "AWS::Lambda::Function")[logicalID(p.API.Stack, f.Function.FunctionArn())])["Environment"])
		if !containsAll(env, `"PLINTH_VECTOR_BUCKET"`, `"PLINTH_INDEX_BACKEND":"s3vectors"`) {
			t.Errorf("%s environment %s lacks the vector bucket and backend", binary, env)
		}
	}
}

// TestS3VectorsBackendPassesNag: the s3vectors variant has no unsuppressed cdk-nag finding.
func TestS3VectorsBackendPassesNag(t *testing.T) {
	s := vectorsPlatform(t)
	for name, stack := range s.platform.stacks() {
		t.Run(name, func(t *testing.T) {
			ann := assertions.Annotations_FromStack(stack)
			for _, f := range append(*ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))),
				*ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))...) {
				//lint:ignore SA1019 the assertions API still returns this type in CDK 2.275
				t.Errorf("unsuppressed cdk-nag finding at %s: %v", *f.Id, f.Entry.Data)
			}
		})
	}
}
