package awsplatform

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/plinth-ai/plinth/shared/platform"
)

func TestAWSBackendsNeedATable(t *testing.T) {
	_, err := NewBackends(context.Background(), Config{AWS: &aws.Config{Region: "eu-west-1"}})
	if !errors.Is(err, platform.ErrMissingConfig) || !strings.Contains(err.Error(), platform.EnvTable) {
		t.Fatalf("err %v", err)
	}
}

func TestParseSiloTenants(t *testing.T) {
	full := `{"globex":{"table":"t","documents_bucket":"d","index_bucket":"i","eval_bucket":"e"}}`
	m, err := ParseSiloTenants(full)
	if err != nil || len(m) != 1 || m["globex"] != (SiloTenant{Table: "t", DocumentsBucket: "d", IndexBucket: "i", EvalBucket: "e"}) {
		t.Fatalf("ParseSiloTenants(%s) = %v, %v", full, m, err)
	}
	if m, err := ParseSiloTenants(" "); err != nil || m != nil {
		t.Fatalf("empty: %v, %v", m, err)
	}
	for in, want := range map[string]string{
		`[1]`: "not a JSON object",
		`{"globex":{"table":"t","documents_bucket":"d","index_bucket":"i","eval_bucket":"e","extra":1}}`: "not a JSON object",
		`{"Not An ID":{"table":"t","documents_bucket":"d","index_bucket":"i","eval_bucket":"e"}}`:        "not a tenant ID",
		`{"globex":{"table":"t","documents_bucket":"d","index_bucket":"i"}}`:                             "no eval_bucket",
		`{"globex":{"documents_bucket":"d","index_bucket":"i","eval_bucket":"e"}}`:                       "no table",
	} {
		if _, err := ParseSiloTenants(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSiloTenants(%s): %v, want an error with %q", in, err, want)
		}
	}
	// NewBackends refuses to start with a malformed map rather than put silo data in
	// the pool.
	_, err = NewBackends(context.Background(), Config{Table: "plinth", AWS: &aws.Config{Region: "eu-west-1"}, SiloTenants: `{"globex":{}}`})
	if !errors.Is(err, platform.ErrMissingConfig) || !strings.Contains(err.Error(), platform.EnvSiloTenants) {
		t.Fatalf("NewBackends with a silo tenant without a table: %v", err)
	}
}

// A tenant the directory calls silo that the deployment has no table and buckets for is
// refused, never served from the pool.
func TestAWSSiloCellOfAnUnknownTenant(t *testing.T) {
	s := &awsSilos{tenants: map[string]SiloTenant{}}
	if _, err := s.Cell(context.Background(), "initech"); !errors.Is(err, platform.ErrMissingConfig) || !strings.Contains(err.Error(), "initech") {
		t.Fatalf("err %v", err)
	}
}
