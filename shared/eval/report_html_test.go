package eval

import (
	"bytes"
	"html/template"
	"testing"
	"time"
)

// The reports were html/template templates; these are those templates, kept here to
// check that the code writing the reports now gives the same bytes, escaping included.
var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{"deref": func(b *bool) bool { return b != nil && *b }}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation {{.Run.ID}}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}th{background:#f3f3f3}
.bad{color:#b00020;font-weight:bold}.ok{color:#1b7f3b;font-weight:bold}td.t{max-width:360px;overflow-wrap:anywhere}</style></head>
<body><h1>Evaluation run {{.Run.ID}}</h1>
<p>Suite <b>{{.Run.SuiteID}}</b> · tenant <b>{{.Run.Tenant}}</b> · target <b>{{.Run.Suite.Target.Model}}</b>{{if .Run.Suite.Target.KnowledgeBase}} · knowledge base <b>{{.Run.Suite.Target.KnowledgeBase}}</b>{{end}}{{if .Run.Suite.Target.PromptVersion}} · prompt version <b>{{.Run.Suite.Target.PromptVersion}}</b>{{end}}
· status <b>{{.Run.Status}}</b> · {{.Run.ItemCount}} items ({{.Run.FailedItems}} failed) · started {{.Run.StartedAt.Format "2006-01-02 15:04:05Z07:00"}}
{{if .Run.Passed}} · thresholds {{if deref .Run.Passed}}<span class="ok">passed</span>{{else}}<span class="bad">failed</span>{{end}}{{end}}</p>
{{if .Run.Error}}<p class="bad">Error: {{.Run.Error}}</p>{{end}}
<h2>Metrics</h2>{{.MetricsChart}}
<table><tr><th>metric</th><th>value</th><th>scale</th><th>threshold</th>{{if .Run.BaselineRunID}}<th>baseline {{.Run.BaselineRunID}}</th><th>delta</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Metric}}</td><td>{{.Value}}</td><td>{{.Scale}}</td><td>{{.Threshold}}</td>{{if $.Run.BaselineRunID}}<td>{{.Baseline}}</td><td{{if .Regressed}} class="bad"{{end}}>{{.Delta}}</td>{{end}}</tr>
{{end}}</table>
{{if .Run.Regressions}}<h2 class="bad">Regressions</h2><ul>{{range .Run.Regressions}}<li>{{.Metric}}: {{printf "%.4g" .Baseline}} → {{printf "%.4g" .Current}} (Δ {{printf "%.4g" .Delta}}, tolerance {{printf "%.4g" .Tolerance}})</li>{{end}}</ul>{{end}}
{{if .JudgeChart}}<h2>Judge ({{.Run.Suite.Judge.Model}}, cost ${{printf "%.6f" .Run.JudgeCostUSD}})</h2>{{.JudgeChart}}{{end}}
{{if .HistChart}}<h2>Distribution</h2>{{.HistChart}}{{end}}
<h2>Items{{if .Truncated}} (first {{len .Items}} of {{.Run.ItemCount}}; the CSV has all){{end}}</h2>
<table><tr><th>#</th><th>id</th><th>input</th><th>references</th><th>output</th>{{range .Metrics}}<th>{{.}}</th>{{end}}</tr>
{{range .Items}}<tr><td>{{.Index}}</td><td>{{.ID}}</td><td class="t">{{.Item.Input}}</td><td class="t">{{range .Item.References}}{{.}}<br>{{end}}</td><td class="t">{{if .Error}}<span class="bad">{{.Error}}</span>{{else}}{{.Output}}{{end}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table></body></html>
`))

var trendTmpl = template.Must(template.New("trend").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation trend {{.Suite.ID}}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 6px;text-align:left}th{background:#f3f3f3}.bad{color:#b00020;font-weight:bold}</style></head>
<body><h1>Suite {{.Suite.ID}}: trend across runs</h1>
<p>Tenant <b>{{.Suite.Tenant}}</b> · target <b>{{.Suite.Target.Model}}</b> · {{len .Runs}} runs{{if .Suite.Schedule}} · schedule <code>{{.Suite.Schedule}}</code>{{end}}</p>
{{.Chart}}
<table><tr><th>run</th><th>started</th><th>status</th>{{range .Metrics}}<th>{{.}}</th>{{end}}<th>regressions</th></tr>
{{range .Rows}}<tr><td>{{.ID}}</td><td>{{.Started}}</td><td>{{.Status}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}<td{{if .Regressions}} class="bad"{{end}}>{{.Regressions}}</td></tr>
{{end}}</table></body></html>
`))

// nasty holds every character the escapers treat specially, invalid UTF-8 included.
const nasty = "a<b>&c\"d'e+f\x00g\xffh é → <script>alert(1)</script>"

func reportFixtures() []reportData {
	yes, no := true, false
	at := time.Date(2031, 2, 3, 4, 5, 6, 0, time.FixedZone("X", 3600))
	full := &Run{ID: "run-" + nasty, SuiteID: "suite+1", Tenant: "t'1", Status: StatusSucceeded, ItemCount: 7, FailedItems: 2,
		StartedAt: at, Passed: &no, Error: "boom " + nasty, BaselineRunID: "base<1>", JudgeCostUSD: 0.0123456,
		Suite:       Suite{Target: TargetSpec{Model: "m&1", KnowledgeBase: "kb\"1", PromptVersion: "v+2"}, Judge: &JudgeSpec{Model: "judge<1>"}},
		Regressions: []Regression{{Metric: "f1<", Baseline: 0.91234, Current: 0.5, Delta: -0.41234, Tolerance: 0.05}, {Metric: "rouge", Baseline: 1e-7, Current: 12345678, Delta: 3, Tolerance: 0}}}
	passed := &Run{ID: "r2", Status: StatusSucceeded, StartedAt: at.UTC(), Passed: &yes, Suite: Suite{Target: TargetSpec{Model: "m"}}}
	bare := &Run{ID: "r3", StartedAt: at}
	items := []reportItem{
		{ItemResult: ItemResult{Index: 0, ID: "i<0>", Item: Item{Input: "q " + nasty, References: []string{"ref+1", nasty}}, Output: "out " + nasty}, Cells: []string{"0.5000", ""}},
		{ItemResult: ItemResult{Index: 1, ID: "i1", Error: "err " + nasty}, Cells: []string{"1.00"}},
		{ItemResult: ItemResult{Index: 2}},
	}
	rows := []metricRow{{Metric: "f1", Value: "0.5000", Scale: "0–1", Threshold: "0.8000", Baseline: "0.9000", Delta: "-0.4000", Regressed: true},
		{Metric: "m<" + nasty, Value: "1", Scale: "0–5"}}
	chart := barChart("Chart "+nasty, []bar{{Label: "l" + nasty, Value: 0.5, Text: "t" + nasty, Fill: "#c00000"}})
	return []reportData{
		{Run: full, Rows: rows, Metrics: []string{"f1", "m+" + nasty}, Items: items, Truncated: true, MetricsChart: chart, JudgeChart: chart, HistChart: chart},
		{Run: passed, Rows: rows[:1], Items: items[:1], MetricsChart: chart},
		{Run: bare},
	}
}

func TestReportHTMLMatchesTemplate(t *testing.T) {
	for i, d := range reportFixtures() {
		var want, got bytes.Buffer
		if err := reportTmpl.Execute(&want, struct {
			Run                                 *Run
			Rows                                []metricRow
			Metrics                             []string
			Items                               []reportItem
			Truncated                           bool
			MetricsChart, JudgeChart, HistChart template.HTML
		}{d.Run, d.Rows, d.Metrics, d.Items, d.Truncated, template.HTML(d.MetricsChart), template.HTML(d.JudgeChart), template.HTML(d.HistChart)}); err != nil {
			t.Fatal(err)
		}
		if err := writeReportHTML(&got, &d); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("report %d differs from the template's:\n%s", i, firstDiff(got.String(), want.String()))
		}
	}
}

func TestTrendHTMLMatchesTemplate(t *testing.T) {
	chart := lineChart("Trend "+nasty, []string{"r<1>", "r2"}, map[string][]float64{"f1": {0.2, 0.9}, "m" + nasty: {0.5, 0.1}})
	for i, d := range []trendData{
		{Suite: &Suite{ID: "s" + nasty, Tenant: "t+1", Target: TargetSpec{Model: "m&"}, Schedule: "rate(1 day) <x>"}, Runs: make([]Run, 3), Metrics: []string{"f1", "m" + nasty},
			Rows: []trendRow{{ID: "r<1>", Started: "2031-01-01", Status: "succeeded", Regressions: "f1, m+", Cells: []string{"0.2", nasty}}, {ID: "r2", Cells: []string{""}}}, Chart: chart},
		{Suite: &Suite{ID: "s"}},
	} {
		var want, got bytes.Buffer
		if err := trendTmpl.Execute(&want, struct {
			Suite   *Suite
			Runs    []Run
			Metrics []string
			Rows    []trendRow
			Chart   template.HTML
		}{d.Suite, d.Runs, d.Metrics, d.Rows, template.HTML(d.Chart)}); err != nil {
			t.Fatal(err)
		}
		if err := writeTrendHTML(&got, &d); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("trend %d differs from the template's:\n%s", i, firstDiff(got.String(), want.String()))
		}
	}
}

// The charts' own escaping is text/template's HTMLEscapeString, as before.
func TestChartEscaping(t *testing.T) {
	for _, s := range []string{"", "plain", nasty, "\x00\x00", "é'\"&<>+"} {
		if got, want := escapeChart(s), template.HTMLEscapeString(s); got != want {
			t.Errorf("escapeChart(%q) = %q, want %q", s, got, want)
		}
	}
}

func firstDiff(got, want string) string {
	n := 0
	for n < len(got) && n < len(want) && got[n] == want[n] {
		n++
	}
	lo := max(0, n-80)
	return "got  …" + got[lo:min(len(got), n+80)] + "\nwant …" + want[lo:min(len(want), n+80)]
}
