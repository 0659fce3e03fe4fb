package platform

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/plinth-ai/plinth/shared/federation"
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

// CentralFromEnv reads a centre to pull from: PLINTH_CENTRAL_URL, PLINTH_CENTRAL_KEY
// (a read-only credential of the centre: a platform auditor key) and
// PLINTH_CENTRAL_SYNC_INTERVAL (a Go duration, default 5m). Zero when no URL is set.
func CentralFromEnv() (federation.Source, error) {
	src := federation.Source{URL: os.Getenv("PLINTH_CENTRAL_URL"), Key: os.Getenv("PLINTH_CENTRAL_KEY")}
	if src.URL == "" {
		return federation.Source{}, nil
	}
	if src.Key == "" {
		return federation.Source{}, fmt.Errorf("PLINTH_CENTRAL_URL is set without PLINTH_CENTRAL_KEY (a platform auditor key of the centre)")
	}
	if v := os.Getenv("PLINTH_CENTRAL_SYNC_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return federation.Source{}, fmt.Errorf("PLINTH_CENTRAL_SYNC_INTERVAL=%q: want a duration of at least 1s, such as 5m", v)
		}
		src.Interval = d
	}
	return src, nil
}
