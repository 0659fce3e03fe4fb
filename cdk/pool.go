package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// TenantReadablePartitions are the pool table's partition-key prefixes a tenant's data
// role may read, each followed by "#<tenant id>" (and, for those marked, "#…"): the
// tenant's usage ledger and aggregates, feedback, and its knowledge bases and document
// records. Everything else in the table (keys, tenants, IAM mappings, other tenants'
// partitions, shared registries) stays out of reach. The prefixes are the ones the
// runtime writes (shared/usage, shared/eval, shared/rag); TestTenantPartitionPrefixes
// keeps them honest.
var TenantReadablePartitions = []struct {
	Prefix string
	// Suffixed partitions carry more after the tenant id ("USAGE#acme#20260101").
	Suffixed bool
}{
	{"USAGE", true},
	{"USAGEAGG", false},
	{"USAGEKEY", false},
	{"EVAL#FEEDBACK", false},
	{"RAGKB", false},
	{"RAGDOC", true},
}

// leadingKeys is the dynamodb:LeadingKeys patterns of a tenant's readable partitions.
func leadingKeys(tenant string) []string {
	var out []string
	for _, p := range TenantReadablePartitions {
		if p.Suffixed {
			out = append(out, p.Prefix+"#"+tenant+"#*")
		} else {
			out = append(out, p.Prefix+"#"+tenant)
		}
	}
	return out
}

// TenantDataRoleName is the name of a tenant's data role in the platform's account.
func TenantDataRoleName(tenant string) string { return "plinth-tenant-" + tenant + "-data" }

// tenantDataRole creates the read-only role a tenant's own account may assume to read
// the tenant's data directly (reporting, exports, audits) without the API.
//
// A pool tenant's role reads the shared table only in the tenant's own partitions
// (dynamodb:LeadingKeys) and the documents bucket only under tenants/<id>/ (object ARNs
// and an s3:prefix condition on listing). A silo tenant's role reads its own table and
// buckets. The key may be used only through DynamoDB and S3 (kms:ViaService), so the role
// cannot decrypt anything else the key protects.
//
// LeadingKeys belongs on these per-tenant roles and not on the platform's functions: each
// function serves every tenant from one role, and must read shared partitions (API-key
// hashes, tenants, IAM mappings, the model registry) before it knows the caller's
// tenant, so no per-tenant condition can hold on its role.
func (s *DataStack) tenantDataRole(t TenantConfig) awsiam.Role {
	role := awsiam.NewRole(s.Stack, jsii.String("TenantData-"+t.ID), &awsiam.RoleProps{
		RoleName:           jsii.String(TenantDataRoleName(t.ID)),
		Description:        jsii.String("Read-only access of tenant " + t.ID + " to its own Plinth data, for its account " + t.Account),
		AssumedBy:          awsiam.NewAccountPrincipal(jsii.String(t.Account)),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	readItems := jsii.Strings("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable")
	readObjects := jsii.Strings("s3:GetObject", "s3:GetObjectVersion")
	keyUse := func(key awskms.IKey) {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("DecryptThroughDataServicesOnly"),
			Actions:   jsii.Strings("kms:Decrypt", "kms:DescribeKey"),
			Resources: &[]*string{key.KeyArn()},
			Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": []*string{
				awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("dynamodb."), awscdk.Aws_REGION(), jsii.String(".amazonaws.com")}),
				awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("s3."), awscdk.Aws_REGION(), jsii.String(".amazonaws.com")}),
			}}},
		}))
	}
	if silo := s.silo(t.ID); silo != nil {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ReadOwnTable"), Actions: readItems, Resources: &[]*string{silo.Table.TableArn()},
		}))
		var objects, buckets []*string
		for _, b := range []awss3.IBucket{silo.Documents, silo.Index, silo.EvalArtifacts} {
			objects = append(objects, b.ArnForObjects(jsii.String("*")))
			buckets = append(buckets, b.BucketArn())
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ReadOwnObjects"), Actions: readObjects, Resources: &objects,
		}))
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ListOwnBuckets"), Actions: jsii.Strings("s3:ListBucket"), Resources: &buckets,
		}))
		keyUse(silo.Key)
		suppress(role, true, nagSuppression("AwsSolutions-IAM5", "The silo tenant's own buckets hold only its "+
			"objects, whose keys are created at runtime, so object ARNs end in a wildcard within those buckets.",
			`/^Resource::.*\/\*$/g`))
		return role
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadOwnPartitions"),
		Actions:   readItems,
		Resources: &[]*string{s.Table.TableArn()},
		Conditions: &map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": leadingKeys(t.ID)},
		},
	}))
	prefix := DocumentsPrefix + t.ID + "/"
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadOwnDocuments"),
		Actions:   readObjects,
		Resources: &[]*string{s.Documents.ArnForObjects(jsii.String(prefix + "*"))},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ListOwnDocuments"),
		Actions:    jsii.Strings("s3:ListBucket"),
		Resources:  &[]*string{s.Documents.BucketArn()},
		Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": []string{prefix, prefix + "*"}}},
	}))
	keyUse(s.Key)
	suppress(role, true, nagSuppression("AwsSolutions-IAM5", "Object ARNs end in a wildcard under the tenant's own "+
		"prefix (tenants/<id>/) of the documents bucket; its objects are created at runtime.", `/^Resource::.*\/\*$/g`))
	return role
}

// silo returns a silo tenant's resources, nil for another tenant.
func (s *DataStack) silo(id string) *SiloTenant {
	for _, t := range s.Silos {
		if t.ID == id {
			return t
		}
	}
	return nil
}
