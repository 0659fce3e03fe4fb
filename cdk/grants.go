package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3vectors"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
)

// The grant helpers below write explicit action lists instead of CDK's
// grantRead/grantReadWrite, whose wildcard actions (s3:GetObject*, kms:ReEncrypt*,
// kms:GenerateDataKey*) give more than the functions use.

// allow adds one statement to a role's policy.
func allow(role awsiam.IRole, actions []string, resources ...*string) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	}))
}

// Key usage.
var (
	kmsDecrypt = []string{"kms:Decrypt", "kms:DescribeKey"}
	kmsEncrypt = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}
)

// grantTableRead allows reads of the table (items and queries).
func grantTableRead(role awsiam.IRole, table awsdynamodb.ITable, key awskms.IKey) {
	allow(role, []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem",
		"dynamodb:TransactGetItems", "dynamodb:DescribeTable"}, table.TableArn())
	allow(role, kmsDecrypt, key.KeyArn())
}

// grantTableReadWrite allows item reads and writes, conditional and
// transactional, but no table management.
func grantTableReadWrite(role awsiam.IRole, table awsdynamodb.ITable, key awskms.IKey) {
	allow(role, []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem",
		"dynamodb:TransactGetItems", "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:UpdateItem",
		"dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:TransactWriteItems"}, table.TableArn())
	allow(role, kmsEncrypt, key.KeyArn())
}

// objectsUnder is the ARN of every object under a key prefix of a bucket.
func objectsUnder(bucket awss3.IBucket, prefix string) *string {
	return bucket.ArnForObjects(jsii.String(prefix + "*"))
}

// grantObjectsRead allows reading and listing objects under a prefix.
func grantObjectsRead(role awsiam.IRole, bucket awss3.IBucket, key awskms.IKey, prefix string) {
	allow(role, []string{"s3:GetObject", "s3:GetObjectVersion"}, objectsUnder(bucket, prefix))
	// ListBucket is what lets HeadObject/GetObject answer 404 rather than 403
	// for a missing key; S3 evaluates it without a prefix context there, so it
	// cannot carry an s3:prefix condition.
	allow(role, []string{"s3:ListBucket"}, bucket.BucketArn())
	allow(role, kmsDecrypt, key.KeyArn())
}

// grantObjectsReadWrite allows reading, listing, writing and deleting
// objects under a prefix.
func grantObjectsReadWrite(role awsiam.IRole, bucket awss3.IBucket, key awskms.IKey, prefix string) {
	grantObjectsRead(role, bucket, key, prefix)
	allow(role, []string{"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}, objectsUnder(bucket, prefix))
	allow(role, kmsEncrypt, key.KeyArn())
}

// Vector index operations by role.
var (
	// vectorsRead queries knowledge bases' dense vectors (GetVectors is what QueryVectors
	// needs to return metadata or filter on it).
	vectorsRead = []string{"s3vectors:QueryVectors", "s3vectors:GetVectors"}
	// vectorsWrite indexes and removes a knowledge base's vectors, creating its index on
	// first use.
	vectorsWrite = []string{"s3vectors:CreateIndex", "s3vectors:GetIndex", "s3vectors:PutVectors", "s3vectors:DeleteVectors"}
	// vectorsDrop removes a deleted knowledge base's index.
	vectorsDrop = []string{"s3vectors:DeleteIndex"}
)

// grantVectors allows actions on the platform's vector indexes (kb-…) in the vector
// bucket and in each silo tenant's own vector bucket, and the keys that encrypt them;
// nothing when there is no vector bucket.
func grantVectors(role awsiam.IRole, data *DataStack, actions []string) {
	if data.Vectors == nil {
		return
	}
	indexes := func(b awss3vectors.CfnVectorBucket) *string {
		return awscdk.Fn_Join(jsii.String(""), &[]*string{b.AttrVectorBucketArn(), jsii.String("/index/kb-*")})
	}
	allow(role, actions, indexes(data.Vectors))
	allow(role, []string{"kms:Decrypt", "kms:GenerateDataKey"}, data.Key.KeyArn())
	for _, t := range data.Silos {
		if t.Vectors != nil {
			allow(role, actions, indexes(t.Vectors))
			allow(role, []string{"kms:Decrypt", "kms:GenerateDataKey"}, t.Key.KeyArn())
		}
	}
	suppress(role, true, nagSuppression("AwsSolutions-IAM5", reasonVectorIndexes, `/^Resource::.*\/index\/kb-\*$/g`))
}

// grantSecretRead allows reading the provider secret.
func grantSecretRead(role awsiam.IRole, secret awssecretsmanager.ISecret, key awskms.IKey) {
	allow(role, []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, secret.SecretArn())
	allow(role, kmsDecrypt, key.KeyArn())
}

// bedrockARN builds an ARN in the Bedrock service.
func bedrockARN(region *string, account *string, resource string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":bedrock:"), region, jsii.String(":"), account,
		jsii.String(":" + resource),
	})
}

// grantBedrockInvoke allows InvokeModel and its streaming form (which also
// cover Converse and ConverseStream) on foundation models (any region, as
// cross-region inference profiles route to them), and on this account's
// inference profiles and custom or provisioned models.
func grantBedrockInvoke(role awsiam.IRole) {
	region, account := awscdk.Aws_REGION(), awscdk.Aws_ACCOUNT_ID()
	allow(role, []string{"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"},
		bedrockARN(jsii.String("*"), jsii.String(""), "foundation-model/*"),
		bedrockARN(region, account, "inference-profile/*"),
		bedrockARN(region, account, "application-inference-profile/*"),
		bedrockARN(region, account, "custom-model/*"),
		bedrockARN(region, account, "provisioned-model/*"),
	)
}

// grantBedrockGuardrail allows ApplyGuardrail on this account's guardrails.
func grantBedrockGuardrail(role awsiam.IRole) {
	allow(role, []string{"bedrock:ApplyGuardrail"}, bedrockARN(awscdk.Aws_REGION(), awscdk.Aws_ACCOUNT_ID(), "guardrail/*"))
}
