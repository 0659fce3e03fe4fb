package eval

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/plinth-ai/plinth/shared/eval/judge"
)

// reportItemLimit caps the item rows an HTML report lists (the CSV has them all).
const reportItemLimit = 500

// WriteCSV writes one row per item: index, id, input, references (joined by " | "),
// output, error, then one column per metric the suite computes.
func (s *Service) WriteCSV(ctx context.Context, w io.Writer, r *Run) error {
	results, err := s.RunItems(ctx, r.ID)
	if err != nil {
		return err
	}
	ms := r.Suite.EffectiveMetrics()
	cw := csv.NewWriter(w)
	header := append([]string{"index", "id", "input", "references", "output", "error"}, ms...)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, res := range results {
		row := []string{strconv.Itoa(res.Index), res.ID, res.Item.question(), strings.Join(res.Item.References, " | "), res.Output, res.Error}
		for _, m := range ms {
			if v, ok := res.Scores[m]; ok {
				row = append(row, strconv.FormatFloat(v, 'f', -1, 64))
			} else {
				row = append(row, "")
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// bar is one bar of a chart, with the value already scaled to 0–1.
type bar struct {
	Label string
	Value float64
	Text  string
	Fill  string
}

// barChart renders horizontal bars as inline SVG.
func barChart(title string, bars []bar) string {
	const w, rowH, labelW = 640, 26, 170
	h := 30 + rowH*len(bars)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">`, w, h, escapeChart(title))
	fmt.Fprintf(&b, `<text x="0" y="16" font-size="14" font-weight="bold">%s</text>`, escapeChart(title))
	for i, br := range bars {
		y := 26 + i*rowH
		bw := int(math.Round(max(0, min(1, br.Value)) * float64(w-labelW-80)))
		fill := br.Fill
		if fill == "" {
			fill = "#4472c4"
		}
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="12">%s</text>`, y+15, escapeChart(br.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="18" fill="%s"/>`, labelW, y+2, bw, fill)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12">%s</text>`, labelW+bw+6, y+15, escapeChart(br.Text))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// lineChart renders one polyline per metric (values scaled to 0–1) across runs.
func lineChart(title string, runs []string, series map[string][]float64) string {
	const w, h, padL, padB, padT = 720, 300, 40, 30, 30
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	colors := []string{"#4472c4", "#ed7d31", "#a5a5a5", "#ffc000", "#5b9bd5", "#70ad47", "#264478", "#9e480e", "#636363", "#997300"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">`, w+160, h, escapeChart(title))
	fmt.Fprintf(&b, `<text x="0" y="16" font-size="14" font-weight="bold">%s</text>`, escapeChart(title))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, padL, h-padB, w, h-padB)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, padL, padT, padL, h-padB)
	fmt.Fprintf(&b, `<text x="0" y="%d" font-size="11">100%%</text><text x="0" y="%d" font-size="11">0</text>`, padT+4, h-padB)
	n := len(runs)
	x := func(i int) float64 {
		if n <= 1 {
			return float64(padL+w) / 2
		}
		return float64(padL) + float64(i)*float64(w-padL-10)/float64(n-1)
	}
	y := func(v float64) float64 { return float64(h-padB) - max(0, min(1, v))*float64(h-padB-padT) }
	for i, k := range keys {
		c := colors[i%len(colors)]
		var pts []string
		for j, v := range series[k] {
			if math.IsNaN(v) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(j), y(v)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, x(j), y(v), c)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, c, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="12">%s</text>`,
			w+10, padT+i*18, c, w+26, padT+i*18+10, escapeChart(k))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func fmtMetric(m string, v float64) string {
	if MetricScale(m) == 1 {
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

type reportItem struct {
	ItemResult
	Cells []string
}

type metricRow struct {
	Metric, Value, Scale, Threshold, Baseline, Delta string
	Regressed                                        bool
}

// WriteReport renders the run's HTML report with inline SVG charts.
func (s *Service) WriteReport(ctx context.Context, w io.Writer, r *Run) error {
	results, err := s.RunItems(ctx, r.ID)
	if err != nil {
		return err
	}
	var base map[string]float64
	if r.BaselineRunID != "" {
		if b, err := s.GetRun(ctx, r.BaselineRunID); err == nil {
			base = b.Metrics
		}
	}
	ms := r.Suite.EffectiveMetrics()
	var bars []bar
	var rows []metricRow
	for _, m := range ms {
		v, ok := r.Metrics[m]
		if !ok {
			continue
		}
		scale := MetricScale(m)
		fill := ""
		row := metricRow{Metric: m, Value: fmtMetric(m, v), Scale: "0–" + strconv.FormatFloat(scale, 'f', -1, 64)}
		if th, ok := r.Suite.Thresholds[m]; ok {
			row.Threshold = fmtMetric(m, th)
		}
		if bv, ok := base[m]; ok {
			row.Baseline, row.Delta = fmtMetric(m, bv), fmtMetric(m, v-bv)
		}
		for _, reg := range r.Regressions {
			if reg.Metric == m {
				row.Regressed, fill = true, "#c00000"
			}
		}
		lo := 0.0
		if strings.HasPrefix(m, JudgePrefix) {
			lo = 1
		}
		bars = append(bars, bar{Label: m, Value: (v - lo) / (scale - lo), Text: row.Value, Fill: fill})
		rows = append(rows, row)
	}
	data := reportData{Run: r, Rows: rows, Metrics: ms, MetricsChart: barChart("Aggregate metrics (bar length relative to each metric's scale)", bars)}
	if len(r.Judge) > 0 {
		var jb []bar
		for _, rub := range r.Suite.Judge.Rubrics {
			sm := r.Judge[judge.Rubric(rub)]
			if sm == nil {
				continue
			}
			for i := 4; i >= 0; i-- {
				frac := 0.0
				if sm.Count > 0 {
					frac = float64(sm.Distribution[i]) / float64(sm.Count)
				}
				jb = append(jb, bar{Label: fmt.Sprintf("%s = %d", rub, i+1), Value: frac, Text: fmt.Sprintf("%d items", sm.Distribution[i])})
			}
		}
		data.JudgeChart = barChart("Judge score distribution", jb)
	}
	if hm := histogramMetric(ms); hm != "" {
		var counts [10]int
		n := 0
		for _, res := range results {
			if v, ok := res.Scores[hm]; ok {
				counts[min(9, int(v/MetricScale(hm)*10))]++
				n++
			}
		}
		var hb []bar
		for i, c := range counts {
			frac := 0.0
			if n > 0 {
				frac = float64(c) / float64(n)
			}
			hb = append(hb, bar{Label: fmt.Sprintf("%s %d–%d%%", hm, i*10, (i+1)*10), Value: frac, Text: strconv.Itoa(c)})
		}
		data.HistChart = barChart("Per-item "+hm+" distribution", hb)
	}
	for i, res := range results {
		if i >= reportItemLimit {
			data.Truncated = true
			break
		}
		ri := reportItem{ItemResult: res}
		for _, m := range ms {
			if v, ok := res.Scores[m]; ok {
				ri.Cells = append(ri.Cells, fmtMetric(m, v))
			} else {
				ri.Cells = append(ri.Cells, "")
			}
		}
		data.Items = append(data.Items, ri)
	}
	return writeReportHTML(w, &data)
}

func histogramMetric(ms []string) string {
	for _, m := range []string{MetricF1, MetricROUGEL, MetricROUGE1, MetricEmbeddingSimilarity, MetricFaithfulness} {
		if slices.Contains(ms, m) {
			return m
		}
	}
	return ""
}

// WriteTrend renders the suite's runs, oldest first, as an HTML page with an inline SVG
// line chart of every metric (scaled to its range).
func (s *Service) WriteTrend(ctx context.Context, w io.Writer, su *Suite) error {
	runs, err := s.ListRuns(ctx, su.Tenant, su.ID, 0)
	if err != nil {
		return err
	}
	slices.Reverse(runs)
	ms := su.EffectiveMetrics()
	series := map[string][]float64{}
	var rows []trendRow
	var labels []string
	for _, r := range runs {
		rw := trendRow{ID: r.ID, Started: r.StartedAt.Format("2006-01-02 15:04:05Z07:00"), Status: r.Status}
		var regs []string
		for _, g := range r.Regressions {
			regs = append(regs, g.Metric)
		}
		rw.Regressions = strings.Join(regs, ", ")
		for _, m := range ms {
			v, ok := r.Metrics[m]
			if ok {
				rw.Cells = append(rw.Cells, fmtMetric(m, v))
			} else {
				rw.Cells = append(rw.Cells, "")
			}
			if r.Status != StatusSucceeded {
				continue
			}
			lo := 0.0
			if strings.HasPrefix(m, JudgePrefix) {
				lo = 1
			}
			if ok {
				series[m] = append(series[m], (v-lo)/(MetricScale(m)-lo))
			} else {
				series[m] = append(series[m], math.NaN())
			}
		}
		if r.Status == StatusSucceeded {
			labels = append(labels, r.ID)
		}
		rows = append(rows, rw)
	}
	return writeTrendHTML(w, &trendData{Suite: su, Runs: runs, Metrics: ms, Rows: rows, Chart: lineChart("Metrics across succeeded runs (each scaled to its range)", labels, series)})
}
