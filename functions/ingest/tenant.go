package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3vectorsapi "github.com/aws/aws-sdk-go-v2/service/s3vectors"

	"github.com/plinth-ai/plinth/shared/blob/s3blob"
	"github.com/plinth-ai/plinth/shared/platform"
	"github.com/plinth-ai/plinth/shared/platform/awsplatform"
	"github.com/plinth-ai/plinth/shared/rag"
	"github.com/plinth-ai/plinth/shared/rag/index"
	"github.com/plinth-ai/plinth/shared/rag/index/s3vectors"
	"github.com/plinth-ai/plinth/shared/rag/tenantingest"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// gatewayBackoff is the first wait before an embeddings call the centre refused with 429
// or 5xx is tried again.
var gatewayBackoff = time.Second

// tenantHandler is the Lambda handler of a hybrid tenant's ingestion function.
type tenantHandler = func(context.Context, events.S3Event) ([]tenantingest.Outcome, error)

// newTenantHandler assembles the hybrid tenant stack's ingestion (PLINTH_TASK=TenantIngest):
// the tenant's documents and index buckets (and S3 Vectors bucket), no table, and the
// central gateway called with SigV4 as the function's role. cfg supplies the buckets,
// the SDK configuration and clients (emulators in tests); getenv the tenant and gateway.
func newTenantHandler(ctx context.Context, cfg awsplatform.Config, getenv func(string) string, log *slog.Logger) (tenantHandler, error) {
	tenant := getenv(tenantingest.EnvTenant)
	gatewayURL := getenv(tenantingest.EnvGatewayURL)
	switch {
	case tenant == "":
		return nil, fmt.Errorf("%s: %w", tenantingest.EnvTenant, platform.ErrMissingConfig)
	case cfg.DocumentsBucket == "" || cfg.IndexBucket == "":
		return nil, fmt.Errorf("%s and %s: %w", platform.EnvDocumentsBucket, platform.EnvIndexBucket, platform.ErrMissingConfig)
	case gatewayURL == "":
		return nil, fmt.Errorf("%s (the central IAM API's URL): %w", tenantingest.EnvGatewayURL, platform.ErrMissingConfig)
	}
	if auth := getenv(tenantingest.EnvGatewayAuth); auth != "" && auth != "sigv4" {
		return nil, fmt.Errorf("%s=%q: the tenant stack calls the central gateway with sigv4 only", tenantingest.EnvGatewayAuth, auth)
	}
	u, err := url.Parse(gatewayURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%s=%q is not an http(s) URL", tenantingest.EnvGatewayURL, gatewayURL)
	}
	var sdk aws.Config
	if cfg.AWS != nil {
		sdk = cfg.AWS.Copy()
	} else if sdk, err = config.LoadDefaultConfig(ctx); err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	region := getenv(tenantingest.EnvGatewayRegion)
	if region == "" {
		region = tenantingest.RegionOf(u.Hostname())
	}
	if region == "" {
		region = sdk.Region
	}
	if sdk.Credentials == nil || region == "" {
		return nil, fmt.Errorf("signing calls to the central gateway needs credentials and a region (%s): %w", tenantingest.EnvGatewayRegion, platform.ErrMissingConfig)
	}

	s3c := cfg.S3
	if s3c == nil {
		s3c = s3.NewFromConfig(sdk)
	}
	docs, err := s3blob.New(s3c, cfg.DocumentsBucket)
	if err != nil {
		return nil, err
	}
	indexBucket, err := s3blob.New(s3c, cfg.IndexBucket)
	if err != nil {
		return nil, err
	}
	backend := cfg.IndexBackend
	var opts []index.Option
	switch backend {
	case "", rag.BackendEmbedded:
		backend = rag.BackendEmbedded
	case rag.BackendS3Vectors:
		if cfg.VectorBucket == "" {
			return nil, fmt.Errorf("%s=s3vectors needs %s: %w", platform.EnvIndexBackend, platform.EnvVectorBucket, platform.ErrMissingConfig)
		}
		api := cfg.S3Vectors
		if api == nil {
			api = s3vectorsapi.NewFromConfig(sdk)
		}
		opts = append(opts, index.WithVectorStore(s3vectors.New(api, cfg.VectorBucket)))
	default:
		return nil, fmt.Errorf("%s=%q must be embedded or s3vectors", platform.EnvIndexBackend, backend)
	}
	model := getenv(tenantingest.EnvEmbeddingModel)
	if model == "" {
		model = tenantingest.DefaultEmbeddingModel
	}
	var base http.RoundTripper
	if cfg.UpstreamHTTPClient != nil {
		base = cfg.UpstreamHTTPClient.Transport
	}
	signed := &http.Client{Timeout: 2 * time.Minute, Transport: &sigv4.Transport{
		Credentials: sdk.Credentials, Region: region, Service: "execute-api", Base: base}}
	gw := &tenantingest.Gateway{URL: gatewayURL, Tenant: tenant, Model: model, HTTP: signed, Backoff: gatewayBackoff}
	h, err := tenantingest.New(tenantingest.Config{
		Tenant: tenant, Bucket: cfg.DocumentsBucket, Documents: docs, Records: indexBucket,
		Indexes: index.NewManager(indexBucket, opts...), IndexBackend: backend,
		Embedder: gw, Model: model, Clock: cfg.Clock, Log: log,
	})
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}
