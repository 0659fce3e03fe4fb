// Package schedule implements Amazon EventBridge Scheduler's schedule expressions
// (rate(...), cron(...) with six fields and AWS's ?, L, W and # semantics, at(...)) and an
// in-process scheduler that fires callbacks on them, so the local platform runs the same
// schedules the AWS deployment gives to EventBridge Scheduler.
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidExpression means a schedule expression does not follow EventBridge Scheduler's syntax.
var ErrInvalidExpression = errors.New("schedule: invalid expression")

type kind int

const (
	kindRate kind = iota
	kindCron
	kindAt
)

// Schedule is a parsed schedule expression.
type Schedule struct {
	expr  string
	kind  kind
	every time.Duration
	at    time.Time
	cron  *cronSpec
	loc   *time.Location
}

// Parse parses an expression evaluated in UTC.
func Parse(expr string) (*Schedule, error) { return ParseIn(expr, time.UTC) }

// ParseIn parses an expression evaluated in loc, as Scheduler's ScheduleExpressionTimezone.
func ParseIn(expr string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	e := strings.TrimSpace(expr)
	open := strings.IndexByte(e, '(')
	if open < 0 || !strings.HasSuffix(e, ")") {
		return nil, fmt.Errorf("%w: %q: want rate(...), cron(...) or at(...)", ErrInvalidExpression, expr)
	}
	body := strings.TrimSpace(e[open+1 : len(e)-1])
	s := &Schedule{expr: e, loc: loc}
	switch e[:open] {
	case "rate":
		d, err := parseRate(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidExpression, expr, err)
		}
		s.kind, s.every = kindRate, d
	case "cron":
		c, err := parseCron(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidExpression, expr, err)
		}
		s.kind, s.cron = kindCron, c
	case "at":
		t, err := time.ParseInLocation("2006-01-02T15:04:05", body, loc)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: want at(yyyy-mm-ddThh:mm:ss)", ErrInvalidExpression, expr)
		}
		s.kind, s.at = kindAt, t
	default:
		return nil, fmt.Errorf("%w: %q: want rate(...), cron(...) or at(...)", ErrInvalidExpression, expr)
	}
	return s, nil
}

// String returns the expression.
func (s *Schedule) String() string { return s.expr }

// Interval returns a rate schedule's period (0 for cron and at schedules).
func (s *Schedule) Interval() time.Duration { return s.every }

// Next returns the first fire time strictly after after, or the zero time when the schedule
// never fires again. A rate schedule fires one period after after (Scheduler counts rates
// from the schedule's creation; the in-process Scheduler anchors them when they are added).
func (s *Schedule) Next(after time.Time) time.Time {
	switch s.kind {
	case kindRate:
		return after.Add(s.every)
	case kindAt:
		if s.at.After(after) {
			return s.at
		}
		return time.Time{}
	}
	return s.cron.next(after.In(s.loc))
}

func parseRate(body string) (time.Duration, error) {
	f := strings.Fields(body)
	if len(f) != 2 {
		return 0, errors.New("want rate(value unit)")
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 {
		return 0, errors.New("value must be a positive integer")
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	unit := f[1]
	if n == 1 {
		if _, ok := units[unit]; !ok {
			return 0, errors.New("unit must be minute, hour or day when the value is 1")
		}
	} else {
		u, ok := strings.CutSuffix(unit, "s")
		if _, known := units[u]; !ok || !known {
			return 0, errors.New("unit must be minutes, hours or days when the value is above 1")
		}
		unit = u
	}
	return time.Duration(n) * units[unit], nil
}

// cronSpec is a parsed six-field AWS cron expression.
type cronSpec struct {
	minutes, hours, months, years bitset
	dom                           domSpec
	dow                           dowSpec
	domAny, dowAny                bool // '?'
}

type bitset map[int]bool

type domSpec struct {
	days        bitset
	last        bool // L
	lastWeekday bool // LW
	nearest     int  // nW
	all         bool
}

type dowSpec struct {
	days   bitset // 0=Sunday … 6=Saturday
	lastOf int    // nL: last weekday n of the month (n as 0-6), -1 unset
	nth    int    // n#k
	nthDay int
	all    bool
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

func parseCron(body string) (*cronSpec, error) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, fmt.Errorf("want 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(f))
	}
	c := &cronSpec{}
	var err error
	if c.minutes, err = parseField(f[0], 0, 59, nil); err != nil {
		return nil, fmt.Errorf("minutes: %w", err)
	}
	if c.hours, err = parseField(f[1], 0, 23, nil); err != nil {
		return nil, fmt.Errorf("hours: %w", err)
	}
	if c.months, err = parseField(f[3], 1, 12, monthNames); err != nil {
		return nil, fmt.Errorf("month: %w", err)
	}
	if c.years, err = parseField(f[5], 1970, 2199, nil); err != nil {
		return nil, fmt.Errorf("year: %w", err)
	}
	c.domAny, c.dowAny = f[2] == "?", f[4] == "?"
	if c.domAny == c.dowAny {
		return nil, errors.New("exactly one of day-of-month and day-of-week must be '?'")
	}
	if !c.domAny {
		if c.dom, err = parseDOM(f[2]); err != nil {
			return nil, fmt.Errorf("day-of-month: %w", err)
		}
	}
	if !c.dowAny {
		if c.dow, err = parseDOW(f[4]); err != nil {
			return nil, fmt.Errorf("day-of-week: %w", err)
		}
	}
	return c, nil
}

func parseValue(s string, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	return strconv.Atoi(s)
}

// parseField parses comma-separated values, ranges (a-b), steps (*/n, a/n, a-b/n) and '*'.
func parseField(s string, lo, hi int, names map[string]int) (bitset, error) {
	set := bitset{}
	for _, part := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("bad step %q", part)
			}
			step = n
		}
		var from, to int
		switch {
		case rng == "*":
			from, to = lo, hi
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			x, err1 := parseValue(a, names)
			y, err2 := parseValue(b, names)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("bad range %q", part)
			}
			from, to = x, y
		default:
			x, err := parseValue(rng, names)
			if err != nil {
				return nil, fmt.Errorf("bad value %q", part)
			}
			from, to = x, x
			if hasStep {
				to = hi
			}
		}
		if from < lo || to > hi || from > hi || to < lo {
			return nil, fmt.Errorf("%q outside %d-%d", part, lo, hi)
		}
		if from <= to {
			for v := from; v <= to; v += step {
				set[v] = true
			}
		} else { // wrap-around range such as FRI-MON or 22-2
			for i, v := 0, from; ; i++ {
				if i%step == 0 {
					set[v] = true
				}
				if v == to {
					break
				}
				v++
				if v > hi {
					v = lo
				}
			}
		}
	}
	return set, nil
}

func parseDOM(s string) (domSpec, error) {
	switch {
	case s == "*":
		return domSpec{all: true}, nil
	case s == "L":
		return domSpec{last: true}, nil
	case s == "LW":
		return domSpec{lastWeekday: true}, nil
	case strings.HasSuffix(s, "W"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "W"))
		if err != nil || n < 1 || n > 31 {
			return domSpec{}, fmt.Errorf("bad %q", s)
		}
		return domSpec{nearest: n}, nil
	}
	set, err := parseField(s, 1, 31, nil)
	return domSpec{days: set}, err
}

func parseDOW(s string) (dowSpec, error) {
	d := dowSpec{lastOf: -1}
	switch {
	case s == "*":
		d.all = true
		return d, nil
	case s == "L":
		d.days = bitset{6: true}
		return d, nil
	case strings.HasSuffix(s, "L"):
		n, err := parseValue(strings.TrimSuffix(s, "L"), dayNames)
		if err != nil || n < 1 || n > 7 {
			return d, fmt.Errorf("bad %q", s)
		}
		d.lastOf = n - 1
		return d, nil
	case strings.Contains(s, "#"):
		a, b, _ := strings.Cut(s, "#")
		n, err1 := parseValue(a, dayNames)
		k, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || n < 1 || n > 7 || k < 1 || k > 5 {
			return d, fmt.Errorf("bad %q", s)
		}
		d.nthDay, d.nth = n-1, k
		return d, nil
	}
	set, err := parseField(s, 1, 7, dayNames)
	if err != nil {
		return d, err
	}
	d.days = bitset{}
	for v := range set {
		d.days[v-1] = true
	}
	return d, nil
}

func daysIn(year int, month time.Month, loc *time.Location) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, loc).Day()
}

func (c *cronSpec) dayMatches(t time.Time) bool {
	y, m, d := t.Date()
	last := daysIn(y, m, t.Location())
	if c.dowAny {
		switch {
		case c.dom.all:
			return true
		case c.dom.last:
			return d == last
		case c.dom.lastWeekday:
			return d == nearestWeekday(y, m, last, t.Location())
		case c.dom.nearest > 0:
			target := min(c.dom.nearest, last)
			return d == nearestWeekday(y, m, target, t.Location())
		}
		return c.dom.days[d]
	}
	wd := int(t.Weekday())
	switch {
	case c.dow.all:
		return true
	case c.dow.lastOf >= 0:
		return wd == c.dow.lastOf && d+7 > last
	case c.dow.nth > 0:
		return wd == c.dow.nthDay && (d-1)/7+1 == c.dow.nth
	}
	return c.dow.days[wd]
}

// nearestWeekday is the weekday closest to day within the month (the W rule).
func nearestWeekday(y int, m time.Month, day int, loc *time.Location) int {
	t := time.Date(y, m, day, 0, 0, 0, 0, loc)
	last := daysIn(y, m, loc)
	switch t.Weekday() {
	case time.Saturday:
		if day == 1 {
			return 3
		}
		return day - 1
	case time.Sunday:
		if day == last {
			return day - 2
		}
		return day + 1
	}
	return day
}

func (c *cronSpec) next(after time.Time) time.Time {
	loc := after.Location()
	start := after.Truncate(time.Minute).Add(time.Minute)
	day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, loc)
	for day.Year() <= 2199 {
		y, m, _ := day.Date()
		if !c.years[y] {
			day = time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
			continue
		}
		if !c.months[int(m)] {
			day = time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
			continue
		}
		if c.dayMatches(day) {
			for h := 0; h < 24; h++ {
				if !c.hours[h] {
					continue
				}
				for mi := 0; mi < 60; mi++ {
					if !c.minutes[mi] {
						continue
					}
					t := time.Date(y, m, day.Day(), h, mi, 0, 0, loc)
					if t.Hour() != h || t.Minute() != mi {
						continue // a wall-clock time skipped by a daylight-saving change
					}
					if !t.Before(start) {
						return t
					}
				}
			}
		}
		day = time.Date(y, m, day.Day()+1, 0, 0, 0, 0, loc)
	}
	return time.Time{}
}
