package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Config holds the deployment settings the app reads from CDK context
// (`cdk synth -c key=value` or cdk.json). Zero values select the defaults
// documented on each field.
type Config struct {
	// AssetDir holds one folder per function with its `bootstrap` binary
	// (`make build` writes build/<fn>/bootstrap). Context `assetDir`, default "build".
	AssetDir string
	// StateMachinesDir holds the `*.asl.json` definitions. Context
	// `stateMachinesDir`, default "statemachines".
	StateMachinesDir string
	// StageName is the API Gateway stage. Context `stage`, default "prod".
	StageName string
	// DomainName and CertificateARN, when both are set, put the API behind a
	// regional custom domain with TLS 1.2 as the minimum. Context `domainName`
	// and `certificateArn`.
	DomainName     string
	CertificateARN string
	// ThrottleRate and ThrottleBurst bound the stage's steady request rate and
	// burst. Context `throttleRate` (default 200) and `throttleBurst` (default 400).
	ThrottleRate  float64
	ThrottleBurst float64
	// WAFRateLimit is the number of requests one client IP may send in five
	// minutes before the WebACL blocks it. Context `wafRateLimit`, default 3000.
	WAFRateLimit float64
	// GatewayReservedConcurrency reserves concurrency for the gateway function
	// when positive. Context `gatewayReservedConcurrency`, default 0 (unreserved).
	GatewayReservedConcurrency float64
	// UsagePlan adds an API Gateway usage plan with the stage's throttle when
	// true. Context `usagePlan`, default false.
	UsagePlan bool
	// AlarmEmail subscribes an address to the alarm topic. Context `alarmEmail`.
	AlarmEmail string
	// Nag applies the cdk-nag AwsSolutions checks during synth. Context `nag`,
	// default true.
	Nag bool
	// PrivateNetwork deploys the private variant: functions in the private subnets of a
	// VPC reaching AWS services through VPC endpoints, and a private REST API reached only
	// through the VPC's execute-api interface endpoint. Context `privateNetwork`, default
	// false.
	PrivateNetwork bool
	// PrivateEgress adds NAT gateways to the private network so functions can call model
	// providers outside AWS. Context `privateEgress`, default false.
	PrivateEgress bool
	// MCPOAuth makes /mcp an OAuth 2.1 resource server besides API keys. Context
	// `mcpOAuthIssuer`, `mcpOAuthJwksUrl` and `mcpResource` (all three or none) and
	// `mcpOAuthTenantClaim`; default off.
	MCPOAuth MCPOAuthConfig
	// VectorBackend is where knowledge bases keep their dense vectors by default:
	// "embedded" (with the index segments in the index bucket) or "s3vectors" (an Amazon S3
	// Vectors bucket, KMS-encrypted, one vector index per tenant and knowledge base, which
	// knowledge bases may also ask for by name). Context `vectorBackend`, default
	// "embedded".
	VectorBackend string
	// GuardrailEmbeddingModel names the registry embedding model denied topics are also
	// matched with semantically (every function's PLINTH_GUARDRAIL_EMBEDDING_MODEL).
	// Context `guardrailEmbeddingModel`, default none (lexical topic matching).
	GuardrailEmbeddingModel string
	// Tenants declares the tenants that need resources of their own. Context `tenants`: a
	// JSON list (a string from the CLI) such as
	// [{"id":"globex","tier":"silo"},{"id":"initech","tier":"hybrid","account":"222222222222"}].
	// Pool tenants need no entry; a pool entry with an account gets a read-only data role
	// its account may assume. Default none.
	Tenants []TenantConfig
	// TenantStack, when set (context `tenantStack=<tenant id>` with `centralAccount`,
	// `centralApiId`, `centralSinkArn` and optionally `centralRegion`), makes the app a
	// hybrid tenant's TenantStack for the line of business's own account instead of the
	// platform.
	TenantStack *TenantStackConfig
	// Central, when set (context `centralUrl` with `centralAccount`, `centralApiId`,
	// optionally `centralRegion`, `centralStage`, `centralSyncInterval`), makes the
	// platform a decentralised line of business's that pulls the centre's model registry
	// and guardrail baseline (cdk/decentral.go).
	Central *CentralConfig
	// DecentralisedPrincipals, on a centre (context `decentralisedPrincipals`: account ids
	// and role ARNs, comma-separated or a JSON list), may call its GET /admin/sync/*.
	DecentralisedPrincipals []string
}

// TenantConfig is one declared tenant.
type TenantConfig struct {
	// ID is the platform's tenant id (lower-case letters, digits and dashes).
	ID string `json:"id"`
	// Tier is "pool", "silo" or "hybrid".
	Tier string `json:"tier"`
	// Account is the tenant's own AWS account (12 digits): required for hybrid tenants,
	// optional for the others. It may assume the tenant's data role, and a hybrid tenant's
	// TenantStack calls the IAM API and sends its telemetry from it.
	Account string `json:"account,omitempty"`
}

// Isolation tiers.
const (
	TierPool   = "pool"
	TierSilo   = "silo"
	TierHybrid = "hybrid"
)

// tenantIDPattern is the platform's tenant id rule (shared/tenant), capped at 24 characters
// here because the id becomes part of role and resource names.
var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,23}$`)

// accountPattern is an AWS account id.
var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// SiloTenants are the declared silo tenants, in declaration order.
func (c Config) SiloTenants() []TenantConfig { return c.tenantsOf(TierSilo) }

// HybridTenants are the declared hybrid tenants, in declaration order.
func (c Config) HybridTenants() []TenantConfig { return c.tenantsOf(TierHybrid) }

func (c Config) tenantsOf(tier string) []TenantConfig {
	var out []TenantConfig
	for _, t := range c.Tenants {
		if t.Tier == tier {
			out = append(out, t)
		}
	}
	return out
}

// parseTenants reads the `tenants` context: a list from cdk.json or a JSON string from
// the CLI.
func parseTenants(v any) ([]TenantConfig, error) {
	var raw []byte
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		raw = []byte(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("context tenants: %w", err)
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var tenants []TenantConfig
	if err := dec.Decode(&tenants); err != nil {
		return nil, fmt.Errorf("context tenants: want a JSON list of {id, tier, account}: %w", err)
	}
	seen := map[string]bool{}
	for i, t := range tenants {
		switch {
		case !tenantIDPattern.MatchString(t.ID):
			return nil, fmt.Errorf("context tenants[%d]: id %q must match %s", i, t.ID, tenantIDPattern)
		case seen[t.ID]:
			return nil, fmt.Errorf("context tenants[%d]: tenant %q is declared twice", i, t.ID)
		case t.Tier != TierPool && t.Tier != TierSilo && t.Tier != TierHybrid:
			return nil, fmt.Errorf("context tenants[%d]: tier %q: use %s, %s or %s", i, t.Tier, TierPool, TierSilo, TierHybrid)
		case t.Account != "" && !accountPattern.MatchString(t.Account):
			return nil, fmt.Errorf("context tenants[%d]: account %q is not a 12-digit AWS account id", i, t.Account)
		case t.Tier == TierHybrid && t.Account == "":
			return nil, fmt.Errorf("context tenants[%d]: hybrid tenant %q needs the account its TenantStack runs in", i, t.ID)
		}
		seen[t.ID] = true
	}
	if n := len(Config{Tenants: tenants}.SiloTenants()); n > maxSiloTenants {
		return nil, fmt.Errorf("context tenants: %d silo tenants, at most %d per deployment (functions carry the silo map in their "+
			"4 KB environment); deploy another platform for the rest", n, maxSiloTenants)
	}
	return tenants, nil
}

// Vector backends.
const (
	VectorBackendEmbedded  = "embedded"
	VectorBackendS3Vectors = "s3vectors"
)

// DefaultConfig returns the settings used when no context overrides them.
func DefaultConfig() Config {
	return Config{
		AssetDir:         "build",
		StateMachinesDir: "statemachines",
		StageName:        "prod",
		ThrottleRate:     200,
		ThrottleBurst:    400,
		WAFRateLimit:     3000,
		Nag:              true,
		VectorBackend:    VectorBackendEmbedded,
	}
}

// ConfigFromContext reads Config from the construct tree's context, keeping
// defaults for absent keys.
func ConfigFromContext(scope constructs.Construct) (Config, error) {
	cfg := DefaultConfig()
	node := scope.Node()
	str := func(key string, dst *string) {
		if v, ok := node.TryGetContext(jsii.String(key)).(string); ok && v != "" {
			*dst = v
		}
	}
	num := func(key string, dst *float64) error {
		switch v := node.TryGetContext(jsii.String(key)).(type) {
		case nil:
		case float64:
			*dst = v
		case string:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("context %s=%q: %w", key, v, err)
			}
			*dst = f
		default:
			return fmt.Errorf("context %s: unsupported type %T", key, v)
		}
		return nil
	}
	boolean := func(key string, dst *bool) error {
		switch v := node.TryGetContext(jsii.String(key)).(type) {
		case nil:
		case bool:
			*dst = v
		case string:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("context %s=%q: %w", key, v, err)
			}
			*dst = b
		default:
			return fmt.Errorf("context %s: unsupported type %T", key, v)
		}
		return nil
	}
	str("assetDir", &cfg.AssetDir)
	str("stateMachinesDir", &cfg.StateMachinesDir)
	str("stage", &cfg.StageName)
	str("domainName", &cfg.DomainName)
	str("certificateArn", &cfg.CertificateARN)
	str("alarmEmail", &cfg.AlarmEmail)
	str("vectorBackend", &cfg.VectorBackend)
	str("guardrailEmbeddingModel", &cfg.GuardrailEmbeddingModel)
	tenants, err := parseTenants(node.TryGetContext(jsii.String("tenants")))
	if err != nil {
		return Config{}, err
	}
	cfg.Tenants = tenants
	if cfg.TenantStack, err = tenantStackConfig(node); err != nil {
		return Config{}, err
	}
	for key, dst := range map[string]*bool{"privateNetwork": &cfg.PrivateNetwork} {
		if err := boolean(key, dst); err != nil {
			return Config{}, err
		}
	}
	if cfg.Central, err = centralConfig(node, cfg); err != nil {
		return Config{}, err
	}
	if cfg.DecentralisedPrincipals, err = decentralisedPrincipals(node, cfg); err != nil {
		return Config{}, err
	}
	str("mcpOAuthIssuer", &cfg.MCPOAuth.Issuer)
	str("mcpOAuthJwksUrl", &cfg.MCPOAuth.JWKSURL)
	str("mcpResource", &cfg.MCPOAuth.Resource)
	str("mcpOAuthTenantClaim", &cfg.MCPOAuth.TenantClaim)
	for key, dst := range map[string]*float64{
		"throttleRate":               &cfg.ThrottleRate,
		"throttleBurst":              &cfg.ThrottleBurst,
		"wafRateLimit":               &cfg.WAFRateLimit,
		"gatewayReservedConcurrency": &cfg.GatewayReservedConcurrency,
	} {
		if err := num(key, dst); err != nil {
			return Config{}, err
		}
	}
	for key, dst := range map[string]*bool{"usagePlan": &cfg.UsagePlan, "nag": &cfg.Nag, "privateNetwork": &cfg.PrivateNetwork, "privateEgress": &cfg.PrivateEgress} {
		if err := boolean(key, dst); err != nil {
			return Config{}, err
		}
	}
	if cfg.VectorBackend != VectorBackendEmbedded && cfg.VectorBackend != VectorBackendS3Vectors {
		return Config{}, fmt.Errorf("context vectorBackend=%q: use %s or %s", cfg.VectorBackend, VectorBackendEmbedded, VectorBackendS3Vectors)
	}
	if (cfg.DomainName == "") != (cfg.CertificateARN == "") {
		return Config{}, fmt.Errorf("context domainName and certificateArn must be given together")
	}
	if cfg.PrivateNetwork && cfg.DomainName != "" {
		return Config{}, fmt.Errorf("context privateNetwork: a private API has no regional custom domain; drop domainName")
	}
	if cfg.PrivateEgress && !cfg.PrivateNetwork {
		return Config{}, fmt.Errorf("context privateEgress needs privateNetwork")
	}
	if err := cfg.MCPOAuth.validate(cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// durationSeconds is shorthand for awscdk.Duration_Seconds.
func durationSeconds(s float64) awscdk.Duration { return awscdk.Duration_Seconds(jsii.Number(s)) }
