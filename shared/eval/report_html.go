package eval

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The HTML reports are written by plain code rather than html/template: executing any
// text/template makes the linker keep every exported method of every type stored in an
// interface anywhere in the program (templates may call methods by name), which made
// every binary importing this package several megabytes larger and its start-up touch
// megabytes more of its image. Every value is escaped as html/template escaped it in the
// HTML text context (report_html_test.go checks the output against the former templates
// byte for byte); charts are markup built by this package.

// reportData is what a run's report shows.
type reportData struct {
	Run                                 *Run
	Rows                                []metricRow
	Metrics                             []string
	Items                               []reportItem
	Truncated                           bool
	MetricsChart, JudgeChart, HistChart string // markup
}

// trendData is what a suite's trend page shows.
type trendData struct {
	Suite   *Suite
	Runs    []Run
	Metrics []string
	Rows    []trendRow
	Chart   string // markup
}

// trendRow is one run in a trend page.
type trendRow struct {
	ID, Started, Status, Regressions string
	Cells                            []string
}

// page accumulates a document: raw appends markup, text appends escaped text.
type page struct{ strings.Builder }

func (p *page) raw(s ...string) {
	for _, x := range s {
		p.WriteString(x)
	}
}

// text appends s escaped as html/template escapes text nodes: NUL, ", &, ', +, < and >.
func (p *page) text(s string) {
	written := 0
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		var repl string
		switch r {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		}
		if repl != "" {
			p.WriteString(s[written:i])
			p.WriteString(repl)
			written = i + w
		}
		i += w
	}
	p.WriteString(s[written:])
}

// escapeChart escapes text inside chart markup: NUL, ", ', &, < and > (as
// text/template's HTMLEscapeString does).
func escapeChart(s string) string {
	if !strings.ContainsAny(s, "\x00\"'&<>") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString("\uFFFD")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func writeReportHTML(w io.Writer, d *reportData) error {
	r := d.Run
	var p page
	p.raw("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Evaluation ")
	p.text(r.ID)
	p.raw(`</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}th{background:#f3f3f3}
.bad{color:#b00020;font-weight:bold}.ok{color:#1b7f3b;font-weight:bold}td.t{max-width:360px;overflow-wrap:anywhere}</style></head>
<body><h1>Evaluation run `)
	p.text(r.ID)
	p.raw("</h1>\n<p>Suite <b>")
	p.text(r.SuiteID)
	p.raw("</b> · tenant <b>")
	p.text(r.Tenant)
	p.raw("</b> · target <b>")
	p.text(r.Suite.Target.Model)
	p.raw("</b>")
	if r.Suite.Target.KnowledgeBase != "" {
		p.raw(" · knowledge base <b>")
		p.text(r.Suite.Target.KnowledgeBase)
		p.raw("</b>")
	}
	if r.Suite.Target.PromptVersion != "" {
		p.raw(" · prompt version <b>")
		p.text(r.Suite.Target.PromptVersion)
		p.raw("</b>")
	}
	p.raw("\n· status <b>")
	p.text(r.Status)
	p.raw("</b> · ", strconv.Itoa(r.ItemCount), " items (", strconv.Itoa(r.FailedItems), " failed) · started ")
	p.text(r.StartedAt.Format("2006-01-02 15:04:05Z07:00"))
	p.raw("\n")
	if r.Passed != nil {
		p.raw(" · thresholds ")
		if *r.Passed {
			p.raw(`<span class="ok">passed</span>`)
		} else {
			p.raw(`<span class="bad">failed</span>`)
		}
	}
	p.raw("</p>\n")
	if r.Error != "" {
		p.raw(`<p class="bad">Error: `)
		p.text(r.Error)
		p.raw("</p>")
	}
	p.raw("\n<h2>Metrics</h2>", d.MetricsChart, "\n<table><tr><th>metric</th><th>value</th><th>scale</th><th>threshold</th>")
	if r.BaselineRunID != "" {
		p.raw("<th>baseline ")
		p.text(r.BaselineRunID)
		p.raw("</th><th>delta</th>")
	}
	p.raw("</tr>\n")
	for _, row := range d.Rows {
		p.raw("<tr>")
		for _, c := range []string{row.Metric, row.Value, row.Scale, row.Threshold} {
			p.raw("<td>")
			p.text(c)
			p.raw("</td>")
		}
		if r.BaselineRunID != "" {
			p.raw("<td>")
			p.text(row.Baseline)
			p.raw("</td><td")
			if row.Regressed {
				p.raw(` class="bad"`)
			}
			p.raw(">")
			p.text(row.Delta)
			p.raw("</td>")
		}
		p.raw("</tr>\n")
	}
	p.raw("</table>\n")
	if len(r.Regressions) > 0 {
		p.raw(`<h2 class="bad">Regressions</h2><ul>`)
		for _, g := range r.Regressions {
			p.raw("<li>")
			p.text(g.Metric)
			p.raw(": ")
			p.text(fmt.Sprintf("%.4g", g.Baseline))
			p.raw(" → ")
			p.text(fmt.Sprintf("%.4g", g.Current))
			p.raw(" (Δ ")
			p.text(fmt.Sprintf("%.4g", g.Delta))
			p.raw(", tolerance ")
			p.text(fmt.Sprintf("%.4g", g.Tolerance))
			p.raw(")</li>")
		}
		p.raw("</ul>")
	}
	p.raw("\n")
	if d.JudgeChart != "" {
		judgeModel := ""
		if r.Suite.Judge != nil {
			judgeModel = r.Suite.Judge.Model
		}
		p.raw("<h2>Judge (")
		p.text(judgeModel)
		p.raw(", cost $")
		p.text(fmt.Sprintf("%.6f", r.JudgeCostUSD))
		p.raw(")</h2>", d.JudgeChart)
	}
	p.raw("\n")
	if d.HistChart != "" {
		p.raw("<h2>Distribution</h2>", d.HistChart)
	}
	p.raw("\n<h2>Items")
	if d.Truncated {
		p.raw(" (first ", strconv.Itoa(len(d.Items)), " of ", strconv.Itoa(r.ItemCount), "; the CSV has all)")
	}
	p.raw("</h2>\n<table><tr><th>#</th><th>id</th><th>input</th><th>references</th><th>output</th>")
	for _, m := range d.Metrics {
		p.raw("<th>")
		p.text(m)
		p.raw("</th>")
	}
	p.raw("</tr>\n")
	for _, it := range d.Items {
		p.raw("<tr><td>", strconv.Itoa(it.Index), "</td><td>")
		p.text(it.ID)
		p.raw(`</td><td class="t">`)
		p.text(it.Item.Input)
		p.raw(`</td><td class="t">`)
		for _, ref := range it.Item.References {
			p.text(ref)
			p.raw("<br>")
		}
		p.raw(`</td><td class="t">`)
		if it.Error != "" {
			p.raw(`<span class="bad">`)
			p.text(it.Error)
			p.raw("</span>")
		} else {
			p.text(it.Output)
		}
		p.raw("</td>")
		for _, c := range it.Cells {
			p.raw("<td>")
			p.text(c)
			p.raw("</td>")
		}
		p.raw("</tr>\n")
	}
	p.raw("</table></body></html>\n")
	_, err := io.WriteString(w, p.String())
	return err
}

func writeTrendHTML(w io.Writer, d *trendData) error {
	su := d.Suite
	var p page
	p.raw("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Evaluation trend ")
	p.text(su.ID)
	p.raw(`</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 6px;text-align:left}th{background:#f3f3f3}.bad{color:#b00020;font-weight:bold}</style></head>
<body><h1>Suite `)
	p.text(su.ID)
	p.raw(": trend across runs</h1>\n<p>Tenant <b>")
	p.text(su.Tenant)
	p.raw("</b> · target <b>")
	p.text(su.Target.Model)
	p.raw("</b> · ", strconv.Itoa(len(d.Runs)), " runs")
	if su.Schedule != "" {
		p.raw(" · schedule <code>")
		p.text(su.Schedule)
		p.raw("</code>")
	}
	p.raw("</p>\n", d.Chart, "\n<table><tr><th>run</th><th>started</th><th>status</th>")
	for _, m := range d.Metrics {
		p.raw("<th>")
		p.text(m)
		p.raw("</th>")
	}
	p.raw("<th>regressions</th></tr>\n")
	for _, row := range d.Rows {
		p.raw("<tr>")
		for _, c := range []string{row.ID, row.Started, row.Status} {
			p.raw("<td>")
			p.text(c)
			p.raw("</td>")
		}
		for _, c := range row.Cells {
			p.raw("<td>")
			p.text(c)
			p.raw("</td>")
		}
		p.raw("<td")
		if row.Regressions != "" {
			p.raw(` class="bad"`)
		}
		p.raw(">")
		p.text(row.Regressions)
		p.raw("</td></tr>\n")
	}
	p.raw("</table></body></html>\n")
	_, err := io.WriteString(w, p.String())
	return err
}
