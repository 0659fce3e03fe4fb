package platform

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/plinth-ai/plinth/shared/federation"
	"github.com/plinth-ai/plinth/shared/tenant/sigv4"
)

// FederationAPI serves the central exports a decentralised Plinth pulls (GET
// /admin/sync/registry, GET /admin/sync/baseline) and, on a platform that pulls from a
// centre (Backends.Central), keeps what the centre owns read-only on the admin API.
func FederationAPI(p *Platform, m *Muxes) error {
	guards, err := Guardrails(p)
	if err != nil {
		return err
	}
	(&federation.Centre{Registry: p.Registry, Guardrails: guards, Now: p.now}).Routes(m.Admin)
	if p.b.Central.Configured() {
		m.WrapAdmin(federation.ReadOnly(p.b.Data.Store))
	}
	return nil
}

// federationLocal is the decentralised side of a platform.
func federationLocal(p *Platform) (*federation.Local, error) {
	guards, err := Guardrails(p)
	if err != nil {
		return nil, err
	}
	return &federation.Local{Store: p.b.Data.Store, Registry: p.Registry, Guardrails: guards, Now: p.now}, nil
}

// SyncFromCentre pulls the centre's registry and baseline once and applies them (nothing
// when no centre is configured).
func SyncFromCentre(ctx context.Context, p *Platform) (federation.Result, error) {
	if !p.b.Central.Configured() {
		return federation.Result{}, nil
	}
	l, err := federationLocal(p)
	if err != nil {
		return federation.Result{}, err
	}
	return federation.SyncOnce(ctx, p.b.Central, l)
}

// reportSync logs one pull: a failed one loudly (the last applied state stays in force).
func reportSync(p *Platform) func(federation.Result, error) {
	return func(res federation.Result, err error) {
		if err != nil {
			p.log.Error("central sync failed; the last synchronised registry and baseline stay in force", "error", err)
			return
		}
		for _, e := range res.Errors {
			p.log.Error("central sync: not applied", "error", e)
		}
		p.log.Info("central sync", "created", res.Created, "updated", res.Updated, "retired", res.Retired,
			"skipped", len(res.Skipped), "baseline", res.Baseline)
	}
}

// Environment of decentralised mode (README, "Operating models").
const (
	EnvCentralURL          = "PLINTH_CENTRAL_URL"
	EnvCentralKey          = "PLINTH_CENTRAL_KEY"
	EnvCentralAuth         = "PLINTH_CENTRAL_AUTH"
	EnvCentralRegion       = "PLINTH_CENTRAL_REGION"
	EnvCentralSyncInterval = "PLINTH_CENTRAL_SYNC_INTERVAL"
)

// How a decentralised Plinth authenticates to its centre (PLINTH_CENTRAL_AUTH).
const (
	// CentralAuthKey sends PLINTH_CENTRAL_KEY, a platform auditor key of the centre, as a
	// bearer token (the default; a centre run with the local runtime).
	CentralAuthKey = "key"
	// CentralAuthSigV4 signs each pull with AWS Signature Version 4 (service execute-api)
	// with the credentials of the default chain (a Lambda function's role): a centre on
	// AWS, whose admin API is IAM-authorised and maps the role to a platform auditor.
	CentralAuthSigV4 = "sigv4"
)

// CentralSettings are decentralised mode's settings as configured, before they are
// checked and turned into a federation.Source.
type CentralSettings struct {
	URL, Key, Auth, Region, SyncInterval string
	// AWSRegion is the runtime's own region (AWS_REGION), the signing region when Region
	// is empty.
	AWSRegion string
}

// CentralSettingsFrom reads the settings with getenv (os.Getenv).
func CentralSettingsFrom(getenv func(string) string) CentralSettings {
	return CentralSettings{URL: getenv(EnvCentralURL), Key: getenv(EnvCentralKey), Auth: getenv(EnvCentralAuth),
		Region: getenv(EnvCentralRegion), SyncInterval: getenv(EnvCentralSyncInterval), AWSRegion: getenv("AWS_REGION")}
}

// Source checks the settings and returns the centre to pull from (zero when no URL is
// set). With SigV4, creds signs the pulls; nil loads the default credential chain.
// Inconsistent settings are an error, so a platform does not start believing it is
// synchronised when it cannot be.
func (c CentralSettings) Source(ctx context.Context, creds aws.CredentialsProvider) (federation.Source, error) {
	if c.URL == "" {
		for name, v := range map[string]string{EnvCentralKey: c.Key, EnvCentralAuth: c.Auth, EnvCentralRegion: c.Region, EnvCentralSyncInterval: c.SyncInterval} {
			if v != "" {
				return federation.Source{}, fmt.Errorf("%s is set without %s (the central Plinth's base URL)", name, EnvCentralURL)
			}
		}
		return federation.Source{}, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return federation.Source{}, fmt.Errorf("%s=%q: want the centre's base URL, such as https://plinth.example.com", EnvCentralURL, c.URL)
	}
	src := federation.Source{URL: c.URL, Auth: c.Auth}
	if v := c.SyncInterval; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return federation.Source{}, fmt.Errorf("%s=%q: want a duration of at least 1s, such as 5m", EnvCentralSyncInterval, v)
		}
		src.Interval = d
	}
	switch c.Auth {
	case "", CentralAuthKey:
		src.Auth = CentralAuthKey
		if c.Key == "" {
			return federation.Source{}, fmt.Errorf("%s is set without %s (a platform auditor key of the centre); "+
				"for a centre on AWS set %s=%s instead", EnvCentralURL, EnvCentralKey, EnvCentralAuth, CentralAuthSigV4)
		}
		if c.Region != "" {
			return federation.Source{}, fmt.Errorf("%s is for %s=%s; a key is not signed", EnvCentralRegion, EnvCentralAuth, CentralAuthSigV4)
		}
		src.Key = c.Key
	case CentralAuthSigV4:
		if c.Key != "" {
			return federation.Source{}, fmt.Errorf("%s=%s signs the pulls with the AWS credentials; unset %s (a key is not sent)",
				EnvCentralAuth, CentralAuthSigV4, EnvCentralKey)
		}
		region := c.Region
		if region == "" {
			region = c.AWSRegion
		}
		if region == "" {
			return federation.Source{}, fmt.Errorf("%s=%s needs the centre's region: set %s (or AWS_REGION)", EnvCentralAuth, CentralAuthSigV4, EnvCentralRegion)
		}
		if creds == nil {
			cfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				return federation.Source{}, fmt.Errorf("%s=%s: load AWS credentials: %w", EnvCentralAuth, CentralAuthSigV4, err)
			}
			if cfg.Credentials == nil {
				return federation.Source{}, fmt.Errorf("%s=%s: no AWS credentials in the default chain", EnvCentralAuth, CentralAuthSigV4)
			}
			creds = cfg.Credentials
		}
		src.HTTP = &http.Client{Timeout: 30 * time.Second,
			Transport: &sigv4.Transport{Credentials: creds, Region: region, Service: "execute-api"}}
	default:
		return federation.Source{}, fmt.Errorf("%s=%q: use %s (a bearer key, %s) or %s (AWS Signature Version 4)",
			EnvCentralAuth, c.Auth, CentralAuthKey, EnvCentralKey, CentralAuthSigV4)
	}
	return src, nil
}

// CentralFromEnv reads a centre to pull from: PLINTH_CENTRAL_URL; PLINTH_CENTRAL_AUTH,
// "key" (default) with PLINTH_CENTRAL_KEY (a read-only credential of the centre: a
// platform auditor key) or "sigv4" with PLINTH_CENTRAL_REGION (else AWS_REGION) and the
// default AWS credential chain; PLINTH_CENTRAL_SYNC_INTERVAL (a Go duration, default 5m).
// Zero when no URL is set.
func CentralFromEnv(ctx context.Context) (federation.Source, error) {
	return CentralSettingsFrom(os.Getenv).Source(ctx, nil)
}
