package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3vectors"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// maxSiloTenants bounds the silo tenants of one deployment: every function carries the
// silo map in its environment (PLINTH_SILO_TENANTS), and Lambda allows 4 KB of
// environment per function. An entry names a table, five buckets (up to 63 characters
// each) and a key ARN (about 75), some 600 bytes with its JSON; five leave room for the
// function's other settings. More silo tenants than this call for another deployment
// (a cell) rather than a longer map.
const maxSiloTenants = 5

// SiloTenant is a silo tenant's dedicated data: its own KMS key (rotation on, alias
// alias/plinth/silo/<id>), its own table (the pool table's schema) and its own documents,
// index and evaluation-artifact buckets, all encrypted with that key. Disabling or
// scheduling the deletion of the key makes everything in them unreadable
// (crypto-shredding) without touching any other tenant.
type SiloTenant struct {
	constructs.Construct
	// ID is the tenant id.
	ID string
	// Key encrypts the tenant's table and buckets and nothing else.
	Key awskms.Key
	// Table has the pool table's key schema (pk, sk; TTL attribute ttl).
	Table awsdynamodb.Table
	// Documents (EventBridge notifications on), Index and EvalArtifacts mirror the pool
	// buckets' layout (documents under tenants/<id>/kb/…, intermediates under work/).
	Documents     awss3.Bucket
	Index         awss3.Bucket
	EvalArtifacts awss3.Bucket
	// Vectors is the tenant's own S3 vector bucket (plinth-vec-<id>-<account>-<region>),
	// encrypted with Key, when the platform keeps knowledge bases' vectors in S3 Vectors
	// (nil otherwise): the platform creates one vector index per knowledge base of the
	// tenant in it, never in the pool's vector bucket.
	Vectors          awss3vectors.CfnVectorBucket
	VectorBucketName *string
	// Customization is the tenant's own fine-tuning bucket (datasets, jobs' validated
	// records), encrypted with Key and refusing objects under any other key, laid out as
	// the pool's (tenants/<id>/customization/…).
	Customization awss3.Bucket
}

// newSiloTenant creates a silo tenant's resources inside the data stack; access logs go
// to the platform's access-log bucket under silo/<id>/.
func (s *DataStack) newSiloTenant(id string) *SiloTenant {
	c := constructs.NewConstruct(s.Stack, jsii.String("Silo-"+id))
	t := &SiloTenant{Construct: c, ID: id}
	t.Key = awskms.NewKey(c, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String(fmt.Sprintf("Plinth silo tenant %s: its table and buckets", id)),
		Alias:             jsii.String("alias/plinth/silo/" + id),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	t.Table = awsdynamodb.NewTable(c, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String("ttl"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:         awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:      t.Key,
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	awscdk.Tags_Of(c).Add(jsii.String("plinth:tenant"), jsii.String(id), nil)
	awscdk.Tags_Of(c).Add(jsii.String("plinth:tier"), jsii.String(TierSilo), nil)
	logPrefix := "silo/" + id + "/"
	t.Documents = newDataBucket(c, "Documents", t.Key, s.AccessLogs, logPrefix+"Documents/", true)
	t.Index = newDataBucket(c, "Index", t.Key, s.AccessLogs, logPrefix+"Index/", false)
	t.EvalArtifacts = newDataBucket(c, "EvalArtifacts", t.Key, s.AccessLogs, logPrefix+"EvalArtifacts/", false)
	t.Customization = newCustomizationBucket(c, "Customization", t.Key, s.AccessLogs, logPrefix+"Customization/")
	if s.Vectors != nil {
		// 11 + 24 (the longest tenant id) + 1 + 12 + 1 + at most 14: within the 63
		// characters a vector bucket name may have.
		t.VectorBucketName = awscdk.Fn_Join(jsii.String("-"), &[]*string{jsii.String("plinth-vec-" + id), awscdk.Aws_ACCOUNT_ID(), awscdk.Aws_REGION()})
		t.Vectors = newVectorBucket(c, "Vectors", t.VectorBucketName, t.Key)
		output(s.Stack, "Silo"+titleCaseID(id)+"VectorBucketName", t.VectorBucketName)
	}
	output(s.Stack, "Silo"+titleCaseID(id)+"TableName", t.Table.TableName())
	return t
}

// bucketOf returns the silo tenant's counterpart of one of the pool's data buckets, nil
// for any other bucket.
func (t *SiloTenant) bucketOf(data *DataStack, pool awss3.IBucket) awss3.IBucket {
	switch pool {
	case awss3.IBucket(data.Documents):
		return t.Documents
	case awss3.IBucket(data.Index):
		return t.Index
	case awss3.IBucket(data.EvalArtifacts):
		return t.EvalArtifacts
	}
	return nil
}

// The data stack's grant methods grant on the pool resource and on the same resource of
// every silo tenant, so a function that serves tenants reaches exactly the pool's and the
// silo tenants' tables and buckets, each with its own key, and nothing else.

func (s *DataStack) grantTableRead(role awsiam.IRole) {
	grantTableRead(role, s.Table, s.Key)
	for _, t := range s.Silos {
		grantTableRead(role, t.Table, t.Key)
	}
}

func (s *DataStack) grantTableReadWrite(role awsiam.IRole) {
	grantTableReadWrite(role, s.Table, s.Key)
	for _, t := range s.Silos {
		grantTableReadWrite(role, t.Table, t.Key)
	}
}

func (s *DataStack) grantObjectsRead(role awsiam.IRole, bucket awss3.IBucket, prefix string) {
	grantObjectsRead(role, bucket, s.Key, prefix)
	for _, t := range s.Silos {
		if b := t.bucketOf(s, bucket); b != nil {
			grantObjectsRead(role, b, t.Key, prefix)
		}
	}
}

func (s *DataStack) grantObjectsReadWrite(role awsiam.IRole, bucket awss3.IBucket, prefix string) {
	grantObjectsReadWrite(role, bucket, s.Key, prefix)
	for _, t := range s.Silos {
		if b := t.bucketOf(s, bucket); b != nil {
			grantObjectsReadWrite(role, b, t.Key, prefix)
		}
	}
}

// siloEnvironment sets PLINTH_SILO_TENANTS on a function: a JSON object from tenant id to
// its table and bucket names, {"globex":{"table":…,"documents_bucket":…,"index_bucket":…,
// "eval_bucket":…,"vector_bucket":…,"customization_bucket":…,"customization_key":…}}
// (vector_bucket with S3 Vectors). Nothing when there are no silo tenants.
func siloEnvironment(f *Function, data *DataStack) {
	if len(data.Silos) == 0 {
		return
	}
	m := map[string]any{}
	for _, t := range data.Silos {
		e := map[string]any{
			"table":            t.Table.TableName(),
			"documents_bucket": t.Documents.BucketName(),
			"index_bucket":     t.Index.BucketName(),
			"eval_bucket":      t.EvalArtifacts.BucketName(),
		}
		if t.VectorBucketName != nil {
			e["vector_bucket"] = t.VectorBucketName
		}
		if t.Customization != nil {
			e["customization_bucket"] = t.Customization.BucketName()
			e["customization_key"] = t.Key.KeyArn()
		}
		m[t.ID] = e
	}
	f.AddEnvironment(SiloTenantsEnv, awscdk.Stack_Of(f.Function).ToJsonString(m, nil))
}

// SiloTenantsEnv is the environment variable that tells functions where silo tenants'
// data lives.
const SiloTenantsEnv = "PLINTH_SILO_TENANTS"

// titleCaseID turns a tenant id into an identifier part ("acme-eu" → "AcmeEu").
func titleCaseID(id string) string {
	out := make([]byte, 0, len(id))
	upper := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c == '-' {
			upper = true
			continue
		}
		if upper && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper = false
		out = append(out, c)
	}
	return string(out)
}

// tenantObjectPrefixes are the key prefixes the platform keeps a tenant's objects under,
// each followed by the tenant id (shared/platform's tenantBlobPrefixes): documents and
// fine-tuning data, ingestion intermediates, index segments, ground-truth datasets and
// evaluation artefacts.
var tenantObjectPrefixes = []string{"tenants", "work", "indexes", "datasets", "eval"}

// grantTenantMoves lets a role move a pool tenant into the silo resources deployed for
// it (POST /admin/tenants/{id}/migration, run by the admin function): for each silo
// tenant, a managed policy of its own (the role's inline policy has no room for it) to
// read and delete its objects in the pool's buckets and read, write and delete them in
// its own, under its own prefixes only, with the keys' use through S3 for the
// fine-tuning objects scoped to them. The tables and the data keys for them are the
// role's already (grantTableReadWrite).
func (s *DataStack) grantTenantMoves(role awsiam.Role) {
	for _, t := range s.Silos {
		var stmts []awsiam.PolicyStatement
		add := func(actions []string, resources []*string, conditions map[string]any) {
			props := &awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: &resources}
			if conditions != nil {
				props.Conditions = &conditions
			}
			stmts = append(stmts, awsiam.NewPolicyStatement(props))
		}
		var pool, silo, buckets []*string
		for _, b := range []awss3.IBucket{s.Documents, s.Index, s.EvalArtifacts} {
			for _, p := range tenantObjectPrefixes {
				pool = append(pool, objectsUnder(b, p+"/"+t.ID+"/"))
				silo = append(silo, objectsUnder(t.bucketOf(s, b), p+"/"+t.ID+"/"))
			}
			buckets = append(buckets, b.BucketArn(), t.bucketOf(s, b).BucketArn())
		}
		prefix := CustomizationPrefix + t.ID + "/"
		poolFT, siloFT := objectsUnder(s.Customization, prefix), objectsUnder(t.Customization, prefix)
		buckets = append(buckets, s.Customization.BucketArn(), t.Customization.BucketArn())
		add([]string{"s3:ListBucket"}, buckets, nil)
		add([]string{"s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject"}, append(pool, poolFT), nil)
		add([]string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}, append(silo, siloFT), nil)
		add(kmsDecrypt, []*string{s.Key.KeyArn()}, nil)
		add(kmsEncrypt, []*string{t.Key.KeyArn()}, nil)
		add([]string{"kms:Decrypt"}, []*string{s.CustomizationKey.KeyArn()}, map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": viaService("s3")},
			"StringLike":   map[string]any{"kms:EncryptionContext:aws:s3:arn": poolFT},
		})
		policy := awsiam.NewManagedPolicy(role, jsii.String("TenantMoves"+titleCaseID(t.ID)), &awsiam.ManagedPolicyProps{
			Description: jsii.String(fmt.Sprintf("Plinth: move tenant %s from the pool into its own table and buckets", t.ID)),
			Statements:  &stmts,
			Roles:       &[]awsiam.IRole{role},
		})
		suppress(policy, false, nagSuppression("AwsSolutions-IAM5", reasonObjectPrefix, `/^Resource::.*\/\*$/g`))
	}
}
