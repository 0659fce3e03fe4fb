package awsplatform

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/blob"
	"github.com/plinth-ai/plinth/shared/blob/s3blob"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors"
	"github.com/plinth-ai/plinth/shared/store/dynamostore"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// SiloTenant is a silo tenant's own table and buckets in AWS, one entry of
// PLINTH_SILO_TENANTS.
type SiloTenant struct {
	Table           string `json:"table"`
	DocumentsBucket string `json:"documents_bucket"`
	IndexBucket     string `json:"index_bucket"`
	EvalBucket      string `json:"eval_bucket"`
	// VectorBucket is the tenant's own S3 Vectors bucket ("" when the deployment has no
	// vector bucket): its knowledge bases' vector indexes, never the pool's bucket.
	VectorBucket string `json:"vector_bucket,omitempty"`
	// CustomizationBucket and CustomizationKey are the tenant's own fine-tuning bucket
	// and the KMS key (ARN) its objects and custom models are encrypted with ("" when the
	// deployment does not offer fine-tuning).
	CustomizationBucket string `json:"customization_bucket,omitempty"`
	CustomizationKey    string `json:"customization_key,omitempty"`
}

// ParseSiloTenants reads PLINTH_SILO_TENANTS ("" is none). Every entry must name a valid
// tenant ID, its table and its three buckets: a silo tenant whose bucket is missing would
// otherwise have its objects refused at run time, or worse, looked for in the pool's.
func ParseSiloTenants(s string) (map[string]SiloTenant, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var m map[string]SiloTenant
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object of silo tenants' tables and buckets: %w", platform.EnvSiloTenants, err)
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		t := m[id]
		if !tenant.ValidID(id) {
			return nil, fmt.Errorf("%s: %q is not a tenant ID", platform.EnvSiloTenants, id)
		}
		for field, v := range map[string]string{"table": t.Table, "documents_bucket": t.DocumentsBucket, "index_bucket": t.IndexBucket, "eval_bucket": t.EvalBucket} {
			if v == "" {
				return nil, fmt.Errorf("%s: silo tenant %s has no %s: %w", platform.EnvSiloTenants, id, field, platform.ErrMissingConfig)
			}
		}
	}
	return m, nil
}

// awsSilos are the AWS runtime's silo cells: each silo tenant's own DynamoDB table and
// documents, index and evaluation buckets, which the CDK app encrypts with the tenant's
// own KMS key. Encryption at rest is the table's and buckets' (SSE-KMS with that key), so
// there is no envelope layer here as there is locally: disabling the tenant's key makes
// the table and buckets unreadable to every function (crypto-shredding), without the
// platform's code taking part.
type awsSilos struct {
	tenants map[string]SiloTenant
	db      dynamostore.Client
	s3      s3blob.Client
	// vectors is the S3 Vectors client (nil when the deployment has no vector bucket).
	vectors s3vectors.API
	clock   func() time.Time
}

var _ platform.SiloCells = (*awsSilos)(nil)

func (s *awsSilos) Cell(_ context.Context, id string) (platform.Cell, error) {
	t, ok := s.tenants[id]
	if !ok {
		return platform.Cell{}, fmt.Errorf("silo tenant %s has no table and buckets in %s (deploy it with tier silo in the CDK app's tenants): %w",
			id, platform.EnvSiloTenants, platform.ErrMissingConfig)
	}
	st, err := dynamostore.New(s.db, t.Table, dynamostore.WithClock(s.clock))
	if err != nil {
		return platform.Cell{}, err
	}
	bucket := func(name string) (blob.Store, error) { return s3blob.New(s.s3, name) }
	c := platform.Cell{Store: st, Blobs: platform.Buckets{DocumentsName: t.DocumentsBucket}}
	if c.Blobs.Documents, err = bucket(t.DocumentsBucket); err != nil {
		return platform.Cell{}, err
	}
	if c.Blobs.Index, err = bucket(t.IndexBucket); err != nil {
		return platform.Cell{}, err
	}
	if c.Blobs.Eval, err = bucket(t.EvalBucket); err != nil {
		return platform.Cell{}, err
	}
	if t.CustomizationBucket != "" {
		if c.Blobs.Customization, err = bucket(t.CustomizationBucket); err != nil {
			return platform.Cell{}, err
		}
		c.Blobs.CustomizationName, c.Blobs.CustomizationKey = t.CustomizationBucket, t.CustomizationKey
	}
	if t.VectorBucket != "" && s.vectors != nil {
		c.Vectors = s3vectors.New(s.vectors, t.VectorBucket)
	}
	return c, nil
}
