package quota

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/plinth-ai/plinth/shared/store"
	"github.com/plinth-ai/plinth/shared/tenant"
)

// Sentinel errors. The gateway's HTTP adapter answers both with 429 and Retry-After.
var (
	// ErrRateLimited means a per-minute request or token limit refused the request
	// (OpenAI code rate_limit_exceeded).
	ErrRateLimited = errors.New("rate limit exceeded")
	// ErrBudgetExceeded means a daily or monthly token or USD budget refused the request
	// (OpenAI code insufficient_quota).
	ErrBudgetExceeded = errors.New("budget exceeded")
)

// LimitError says which limit refused a reservation and when to retry.
type LimitError struct {
	// Err is ErrRateLimited or ErrBudgetExceeded.
	Err error
	// Limit is the limit's JSON name, e.g. "requests_per_minute" or "monthly_usd".
	Limit string
	// Scope is "tenant" or "key".
	Scope string
	// RetryAfter is the time until the window or period that refused ends. For a TooLarge
	// request it is still given (every 429 carries Retry-After), though only a smaller
	// request or a larger limit will help.
	RetryAfter time.Duration
	// TooLarge is true when the request's estimate alone exceeds the limit, so it can
	// never be admitted (lower max_tokens or raise the limit).
	TooLarge bool
}

func (e *LimitError) Error() string {
	if e.TooLarge {
		return fmt.Sprintf("%s: the request alone exceeds the %s %s; lower max_tokens", e.Err, e.Scope, e.Limit)
	}
	return fmt.Sprintf("%s: %s %s reached, retry in %s", e.Err, e.Scope, e.Limit, e.RetryAfter.Round(time.Second))
}

// Unwrap returns the sentinel.
func (e *LimitError) Unwrap() error { return e.Err }

// Code is OpenAI's error code for the refusal.
func (e *LimitError) Code() string {
	if errors.Is(e.Err, ErrBudgetExceeded) {
		return "insufficient_quota"
	}
	return "rate_limit_exceeded"
}

const microUSD = 1e6

// Counter names.
const (
	cTokens = "tok"
	cUSD    = "usd"
)

type options struct {
	now     func() time.Time
	retries int
}

// Option configures Quotas.
type Option func(*options)

// WithClock replaces time.Now for requests that carry no Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Quotas reserves and reconciles usage against limits held in a shared store.
type Quotas struct {
	st  store.Store
	opt options
}

// New returns Quotas over st. It panics if st is nil.
func New(st store.Store, opts ...Option) *Quotas {
	if st == nil {
		panic("quota.New: nil store")
	}
	o := options{now: time.Now, retries: 4}
	for _, f := range opts {
		f(&o)
	}
	return &Quotas{st: st, opt: o}
}

// ReserveRequest describes one request to admit.
type ReserveRequest struct {
	Tenant string
	KeyID  string
	// Limits are the tenant's; KeyLimits the key's own (nil when none).
	Limits    tenant.Limits
	KeyLimits *tenant.Limits
	// EstTokens and EstUSD are the request's worst case (input + max output tokens).
	EstTokens int64
	EstUSD    float64
	// Now is the request time (zero = the clock).
	Now time.Time
}

// Reservation is an admitted request's hold on its limits, settled by Reconcile.
type Reservation struct {
	Tenant, KeyID string
	// Tokens and USD are the amounts reserved.
	Tokens int64
	USD    float64
	At     time.Time

	micro int64
	items []held
}

type held struct {
	key    store.Key
	minute string // minute-token counter on a day item, "" on a month item
	ttl    time.Time
}

// subject is one set of limits (tenant or key) and its items' sort-key prefix.
type subject struct {
	scope  string
	prefix string
	lim    tenant.Limits
}

func pk(tenantID string) string { return "QUOTA#" + tenantID }

// bound is one limited counter of a planned reservation, for refusal diagnosis.
type bound struct {
	item  int
	name  string
	by    float64
	max   float64
	limit string
	scope string
	err   error
	retry time.Duration
}

type plan struct {
	ops    []store.Op
	bounds []bound
	res    *Reservation
}

func (q *Quotas) plan(r ReserveRequest) plan {
	now := r.Now
	if now.IsZero() {
		now = q.opt.now()
	}
	now = now.UTC()
	// The period names share one formatting: yyyymmdd, its yyyymm prefix, and hhmm.
	var stamp [12]byte
	periods := string(now.AppendFormat(stamp[:0], "200601021504"))
	day, month, minute := periods[:8], periods[:6], periods[8:]
	dayStart := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	nextDay := dayStart.AddDate(0, 0, 1)
	nextMonth := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	toMinute := now.Truncate(time.Minute).Add(time.Minute).Sub(now)

	micro := int64(math.Ceil(r.EstUSD*microUSD - 1e-6))
	if micro < 0 {
		micro = 0
	}
	res := &Reservation{Tenant: r.Tenant, KeyID: r.KeyID, Tokens: r.EstTokens, USD: float64(micro) / microUSD, At: now, micro: micro}

	subjects := [2]subject{{scope: "tenant", lim: r.Limits}}
	n := 1
	if r.KeyLimits != nil && !r.KeyLimits.IsZero() {
		subjects[1] = subject{scope: "key", prefix: "K#" + r.KeyID + "#", lim: *r.KeyLimits}
		n = 2
	}
	// A request's operations, deltas and held items are sized for both subjects' day
	// and month items up front: a reservation runs on every gateway request.
	p := plan{res: res, ops: make([]store.Op, 0, 2*n)}
	res.items = make([]held, 0, 2*n)
	partition := pk(r.Tenant)
	minuteReqs, minuteToks := "r:"+minute, "t:"+minute
	tok, usd := float64(r.EstTokens), float64(micro)
	for _, s := range subjects[:n] {
		l := s.lim
		dayItem := l.RequestsPerMinute > 0 || l.TokensPerMinute > 0 || l.DailyTokens > 0 || l.DailyUSD > 0
		monthItem := l.MonthlyTokens > 0 || l.MonthlyUSD > 0
		if !dayItem && !monthItem {
			continue
		}
		all := make([]store.Delta, 0, 6)
		if dayItem {
			idx := len(p.ops)
			deltas := append(all[:0:4],
				store.Delta{Name: minuteReqs, By: 1},
				store.Delta{Name: minuteToks, By: tok},
				store.Delta{Name: cTokens, By: tok},
				store.Delta{Name: cUSD, By: usd},
			)
			add := func(i int, max float64, limit string, err error, retry time.Duration) {
				if max <= 0 {
					return
				}
				deltas[i].Max, deltas[i].HasMax = max, true
				p.bounds = append(p.bounds, bound{item: idx, name: deltas[i].Name, by: deltas[i].By, max: max, limit: limit, scope: s.scope, err: err, retry: retry})
			}
			add(0, float64(l.RequestsPerMinute), "requests_per_minute", ErrRateLimited, toMinute)
			add(1, float64(l.TokensPerMinute), "tokens_per_minute", ErrRateLimited, toMinute)
			add(2, float64(l.DailyTokens), "daily_tokens", ErrBudgetExceeded, nextDay.Sub(now))
			add(3, math.Round(l.DailyUSD*microUSD), "daily_usd", ErrBudgetExceeded, nextDay.Sub(now))
			k := store.Key{PK: partition, SK: s.prefix + "D#" + day}
			ttl := nextDay.Add(48 * time.Hour)
			p.ops = append(p.ops, store.Op{Kind: store.OpAdd, Key: k, Deltas: deltas, Add: store.AddOptions{ExpiresAt: ttl}})
			res.items = append(res.items, held{key: k, minute: minuteToks, ttl: ttl})
		}
		if monthItem {
			idx := len(p.ops)
			deltas := append(all[4:4:6], store.Delta{Name: cTokens, By: tok}, store.Delta{Name: cUSD, By: usd})
			if l.MonthlyTokens > 0 {
				deltas[0].Max, deltas[0].HasMax = float64(l.MonthlyTokens), true
				p.bounds = append(p.bounds, bound{item: idx, name: cTokens, by: tok, max: deltas[0].Max, limit: "monthly_tokens", scope: s.scope, err: ErrBudgetExceeded, retry: nextMonth.Sub(now)})
			}
			if l.MonthlyUSD > 0 {
				deltas[1].Max, deltas[1].HasMax = math.Round(l.MonthlyUSD*microUSD), true
				p.bounds = append(p.bounds, bound{item: idx, name: cUSD, by: usd, max: deltas[1].Max, limit: "monthly_usd", scope: s.scope, err: ErrBudgetExceeded, retry: nextMonth.Sub(now)})
			}
			k := store.Key{PK: partition, SK: s.prefix + "M#" + month}
			ttl := nextMonth.Add(7 * 24 * time.Hour)
			p.ops = append(p.ops, store.Op{Kind: store.OpAdd, Key: k, Deltas: deltas, Add: store.AddOptions{ExpiresAt: ttl}})
			res.items = append(res.items, held{key: k, ttl: ttl})
		}
	}
	return p
}

// Reserve admits the request or refuses it with a *LimitError wrapping ErrRateLimited or
// ErrBudgetExceeded. See the package documentation for the round trips it makes.
func (q *Quotas) Reserve(ctx context.Context, r ReserveRequest) (*Reservation, error) {
	if r.Tenant == "" {
		return nil, errors.New("quota: reserve: tenant is required")
	}
	if r.EstTokens < 0 || r.EstUSD < 0 {
		return nil, errors.New("quota: reserve: estimates must not be negative")
	}
	p := q.plan(r)
	for attempt := 0; ; attempt++ {
		err := q.apply(ctx, p.ops)
		if err == nil {
			return p.res, nil
		}
		conflictOnly := errors.Is(err, store.ErrTransactionConflict) && !errors.Is(err, store.ErrConditionFailed)
		if conflictOnly && attempt < q.opt.retries {
			// A concurrent transaction held an item; nothing was written. Retry with jitter.
			if werr := wait(ctx, attempt); werr != nil {
				return nil, werr
			}
			continue
		}
		if !errors.Is(err, store.ErrConditionFailed) {
			return nil, fmt.Errorf("quota: reserve for %s: %w", r.Tenant, err)
		}
		le, derr := q.diagnose(ctx, p)
		if derr != nil {
			return nil, fmt.Errorf("quota: reserve for %s: %w", r.Tenant, derr)
		}
		if le != nil {
			return nil, le
		}
		// Capacity was released between the refusal and the read: try again.
		if attempt >= q.opt.retries {
			return nil, &LimitError{Err: ErrRateLimited, Limit: "contention", Scope: "tenant", RetryAfter: time.Second}
		}
	}
}

func wait(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(5*time.Millisecond) << attempt))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (q *Quotas) apply(ctx context.Context, ops []store.Op) error {
	switch len(ops) {
	case 0:
		return nil
	case 1:
		_, err := q.st.Add(ctx, ops[0].Key, ops[0].Deltas, ops[0].Add)
		return err
	default:
		return q.st.Transact(ctx, ops)
	}
}

// diagnose reads the reservation's items and returns the refusal with the longest wait
// among the bounds the reservation would overshoot, or nil if none would now.
func (q *Quotas) diagnose(ctx context.Context, p plan) (*LimitError, error) {
	cur := make([]map[string]float64, len(p.ops))
	for i, op := range p.ops {
		it, err := q.st.Get(ctx, op.Key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		cur[i] = it.Nums
	}
	var worst *LimitError
	for _, b := range p.bounds {
		if b.by > b.max {
			return &LimitError{Err: b.err, Limit: b.limit, Scope: b.scope, RetryAfter: b.retry, TooLarge: true}, nil
		}
		if cur[b.item][b.name]+b.by <= b.max {
			continue
		}
		if worst == nil || b.retry > worst.RetryAfter {
			worst = &LimitError{Err: b.err, Limit: b.limit, Scope: b.scope, RetryAfter: b.retry}
		}
	}
	return worst, nil
}

// Reconcile settles r with the actual usage: it adds the difference from the reserved
// amounts (usually negative) to every counter the reservation charged, without bounds.
// When the provider reported no usage, pass r.Tokens and r.USD (no write happens) and
// flag the usage record as estimated. A cache hit passes 0 and 0. Reconciling twice is
// an error.
func (q *Quotas) Reconcile(ctx context.Context, r *Reservation, actualTokens int64, actualUSD float64) error {
	if r == nil {
		return nil
	}
	if r.items == nil && r.micro < 0 {
		return errors.New("quota: reservation already reconciled")
	}
	dTok := float64(actualTokens - r.Tokens)
	dUSD := float64(int64(math.Round(actualUSD*microUSD)) - r.micro)
	items := r.items
	r.items, r.micro = nil, -1
	if dTok == 0 && dUSD == 0 {
		return nil
	}
	ops := make([]store.Op, 0, len(items))
	all := make([]store.Delta, 0, 3*len(items)) // every item's deltas, in one allocation
	for _, h := range items {
		start := len(all)
		all = append(all, store.Delta{Name: cTokens, By: dTok}, store.Delta{Name: cUSD, By: dUSD})
		if h.minute != "" {
			all = append(all, store.Delta{Name: h.minute, By: dTok})
		}
		ops = append(ops, store.Op{Kind: store.OpAdd, Key: h.key, Deltas: all[start:len(all):len(all)], Add: store.AddOptions{ExpiresAt: h.ttl}})
	}
	var err error
	for attempt := 0; ; attempt++ {
		if err = q.apply(ctx, ops); err == nil || attempt >= q.opt.retries || !errors.Is(err, store.ErrTransactionConflict) {
			break
		}
		if werr := wait(ctx, attempt); werr != nil {
			return werr
		}
	}
	if err != nil {
		return fmt.Errorf("quota: reconcile for %s: %w", r.Tenant, err)
	}
	return nil
}

// Usage is a subject's current counters.
type Usage struct {
	RequestsThisMinute int64   `json:"requests_this_minute"`
	TokensThisMinute   int64   `json:"tokens_this_minute"`
	TokensToday        int64   `json:"tokens_today"`
	USDToday           float64 `json:"usd_today"`
	TokensThisMonth    int64   `json:"tokens_this_month"`
	USDThisMonth       float64 `json:"usd_this_month"`
}

// Current reads the tenant's (keyID "") or key's counters at now. Counters of periods
// without a configured limit read as zero.
func (q *Quotas) Current(ctx context.Context, tenantID, keyID string, now time.Time) (Usage, error) {
	now = now.UTC()
	prefix := ""
	if keyID != "" {
		prefix = "K#" + keyID + "#"
	}
	var u Usage
	d, err := q.st.Get(ctx, store.Key{PK: pk(tenantID), SK: prefix + "D#" + now.Format("20060102")})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	m, err := q.st.Get(ctx, store.Key{PK: pk(tenantID), SK: prefix + "M#" + now.Format("200601")})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	mm := now.Format("1504")
	u.RequestsThisMinute = int64(d.Nums["r:"+mm])
	u.TokensThisMinute = int64(d.Nums["t:"+mm])
	u.TokensToday = int64(d.Nums[cTokens])
	u.USDToday = d.Nums[cUSD] / microUSD
	u.TokensThisMonth = int64(m.Nums[cTokens])
	u.USDThisMonth = m.Nums[cUSD] / microUSD
	return u, nil
}
