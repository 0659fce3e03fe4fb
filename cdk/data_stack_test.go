package main

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestDataStack(t *testing.T) {
	s := platform(t)
	tpl, raw := s.templates["data"], s.raw["data"]

	t.Run("key rotates", func(t *testing.T) {
		has(t, "KMS key", func() {
			tpl.HasResource(jsii.String("AWS::KMS::Key"), map[string]any{
				"Properties":     map[string]any{"EnableKeyRotation": true},
				"DeletionPolicy": "Retain",
			})
		})
	})

	t.Run("key lets CloudWatch Logs encrypt only this account's log groups", func(t *testing.T) {
		has(t, "logs key policy", func() {
			tpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{
				"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ObjectLike(&map[string]any{
						"Sid":       "AllowCloudWatchLogs",
						"Condition": map[string]any{"ArnLike": assertions.Match_ObjectLike(&map[string]any{"kms:EncryptionContext:aws:logs:arn": assertions.Match_AnyValue()})},
					}),
				})},
			})
		})
	})

	t.Run("single table", func(t *testing.T) {
		has(t, "table", func() {
			tpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
				"Properties": map[string]any{
					"KeySchema": []any{
						map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
						map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
					},
					"AttributeDefinitions": []any{
						map[string]any{"AttributeName": "pk", "AttributeType": "S"},
						map[string]any{"AttributeName": "sk", "AttributeType": "S"},
					},
					"BillingMode":                      "PAY_PER_REQUEST",
					"TimeToLiveSpecification":          map[string]any{"AttributeName": "ttl", "Enabled": true},
					"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
					"SSESpecification": map[string]any{
						"SSEEnabled":     true,
						"SSEType":        "KMS",
						"KMSMasterKeyId": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^Key")), "Arn"}},
					},
					"DeletionProtectionEnabled": true,
				},
				"DeletionPolicy":      "Retain",
				"UpdateReplacePolicy": "Retain",
			})
		})
	})

	t.Run("buckets are private, versioned, logged and encrypted", func(t *testing.T) {
		buckets := resources(raw, "AWS::S3::Bucket")
		if len(buckets) != 6 {
			t.Fatalf("buckets = %d, want 6 (documents, index, eval artifacts, customisation, trail logs, access logs)", len(buckets))
		}
		logged, sseS3 := 0, 0
		for id, b := range buckets {
			p := props(b)
			if b["DeletionPolicy"] != "Retain" {
				t.Errorf("%s: DeletionPolicy = %v, want Retain", id, b["DeletionPolicy"])
			}
			pab, _ := p["PublicAccessBlockConfiguration"].(map[string]any)
			for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
				if pab[k] != true {
					t.Errorf("%s: %s = %v, want true", id, k, pab[k])
				}
			}
			if v, _ := p["VersioningConfiguration"].(map[string]any); v["Status"] != "Enabled" {
				t.Errorf("%s: versioning %v", id, v)
			}
			enc := jsonText(p["BucketEncryption"])
			switch {
			case containsAll(enc, `"SSEAlgorithm":"aws:kms"`, `"KMSMasterKeyID"`):
				if _, ok := p["LoggingConfiguration"]; !ok {
					t.Errorf("%s: KMS bucket without server access logging", id)
				}
				logged++
			case containsAll(enc, `"SSEAlgorithm":"AES256"`):
				// The access-log bucket: S3 cannot deliver server access logs to SSE-KMS.
				sseS3++
			default:
				t.Errorf("%s: encryption %s", id, enc)
			}
		}
		if sseS3 != 1 {
			t.Errorf("SSE-S3 buckets = %d, want only the access-log bucket", sseS3)
		}
		if logged != 5 {
			t.Errorf("KMS-encrypted, access-logged data buckets = %d, want 5", logged)
		}
	})

	t.Run("every bucket refuses plain HTTP", func(t *testing.T) {
		policies := resources(raw, "AWS::S3::BucketPolicy")
		if len(policies) != 6 {
			t.Fatalf("bucket policies = %d, want 6", len(policies))
		}
		for id, p := range policies {
			if !containsAll(jsonText(props(p)["PolicyDocument"]), `"aws:SecureTransport":"false"`, `"Effect":"Deny"`) {
				t.Errorf("%s: no TLS-only deny statement", id)
			}
		}
	})

	t.Run("documents bucket sends events to EventBridge", func(t *testing.T) {
		has(t, "bucket notifications", func() {
			tpl.HasResourceProperties(jsii.String("Custom::S3BucketNotifications"), map[string]any{
				"BucketName":                map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Documents"))},
				"NotificationConfiguration": map[string]any{"EventBridgeConfiguration": map[string]any{}},
			})
		})
	})

	t.Run("provider secret uses the key", func(t *testing.T) {
		has(t, "secret", func() {
			tpl.HasResourceProperties(jsii.String("AWS::SecretsManager::Secret"), map[string]any{
				"KmsKeyId": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^Key")), "Arn"}},
			})
		})
	})
}
