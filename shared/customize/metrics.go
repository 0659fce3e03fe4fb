package customize

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseStepMetrics reads Bedrock's step_wise_training_metrics.csv (columns
// step_number, epoch_number, training_loss and optionally perplexity, in any order).
func ParseStepMetrics(r io.Reader) ([]StepMetric, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("metrics header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	for _, need := range []string{"step_number", "epoch_number", "training_loss"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("metrics file has no %s column", need)
		}
	}
	var out []StepMetric
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", line, err)
		}
		get := func(name string) (float64, error) {
			i, ok := col[name]
			if !ok || i >= len(row) {
				return 0, nil
			}
			return strconv.ParseFloat(strings.TrimSpace(row[i]), 64)
		}
		step, e1 := get("step_number")
		epoch, e2 := get("epoch_number")
		loss, e3 := get("training_loss")
		ppl, e4 := get("perplexity")
		if err := errors.Join(e1, e2, e3, e4); err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", line, err)
		}
		out = append(out, StepMetric{Step: int(step), Epoch: int(epoch), TrainingLoss: loss, Perplexity: ppl})
	}
}
