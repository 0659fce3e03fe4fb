package awskms_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/plinth-ai/plinth/shared/kms/awskms"
	"github.com/plinth-ai/plinth/shared/kms/kmstest"
)

func client(t *testing.T, f *fakeKMS) *awskmsapi.Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return awskmsapi.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		func(o *awskmsapi.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

func TestContract(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kmstest.Manager { return awskms.New(client(t, newFakeKMS(t))) })
}

// The adapter asks for what envelope encryption needs: 256-bit data keys of a symmetric
// key, deleted keys scheduled with the shortest window.
func TestRequests(t *testing.T) {
	f := newFakeKMS(t)
	m := awskms.New(client(t, f))
	ctx := context.Background()
	id, err := m.CreateKey(ctx, "Plinth silo tenant acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.GenerateDataKey(ctx, id, map[string]string{"tenant": "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := f.keys[id].state; got != "PendingDeletion" {
		t.Errorf("deleted key: %s", got)
	}
	if want := []string{"CreateKey", "GenerateDataKey", "ScheduleKeyDeletion"}; len(f.ops) != 3 || f.ops[0] != want[0] || f.ops[1] != want[1] || f.ops[2] != want[2] {
		t.Errorf("operations %v", f.ops)
	}
}
