package platform

import (
	"errors"

	"github.com/plinth-ai/plinth/shared/kpi"
)

// KPIsAPI serves GET /admin/kpis: the platform's KPIs and maturity stage, computed from
// its records. Evaluation coverage and the tool catalog count where their backends are
// configured (zero otherwise).
func KPIsAPI(p *Platform, m *Muxes) error {
	usageSvc, err := usageService(p)
	if err != nil {
		return err
	}
	guards, err := Guardrails(p)
	if err != nil {
		return err
	}
	opts := []kpi.Option{kpi.WithClock(p.now)}
	switch ev, err := Eval(p); {
	case err == nil:
		opts = append(opts, kpi.WithEvaluations(ev))
	case !errors.Is(err, ErrMissingConfig):
		return err
	}
	switch t, err := Tools(p); {
	case err == nil:
		opts = append(opts, kpi.WithTools(t.Catalog))
	case !errors.Is(err, ErrMissingConfig):
		return err
	}
	kpi.Routes(m.Admin, kpi.NewService(p.Tenants, p.Registry, usageSvc, guards.Repo, opts...))
	return nil
}
