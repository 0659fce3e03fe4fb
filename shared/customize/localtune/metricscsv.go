package localtune

import (
	"encoding/csv"
	"io"
	"strconv"
)

// Files a training run writes beside the model, as Amazon Bedrock names them.
const (
	StepMetricsFile       = "step_wise_training_metrics.csv"
	ValidationMetricsFile = "validation_metrics.csv"
)

// WriteStepMetrics writes step_wise_training_metrics.csv: step_number, epoch_number,
// training_loss, perplexity.
func WriteStepMetrics(w io.Writer, rows []StepMetric) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"step_number", "epoch_number", "training_loss", "perplexity"})
	for _, r := range rows {
		_ = cw.Write([]string{strconv.Itoa(r.Step), strconv.Itoa(r.Epoch), fmtFloat(r.TrainingLoss), fmtFloat(r.Perplexity)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteValidationMetrics writes validation_metrics.csv: step_number, epoch_number,
// validation_loss, perplexity.
func WriteValidationMetrics(w io.Writer, rows []ValidationMetric) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"step_number", "epoch_number", "validation_loss", "perplexity"})
	for _, r := range rows {
		_ = cw.Write([]string{strconv.Itoa(r.Step), strconv.Itoa(r.Epoch), fmtFloat(r.ValidationLoss), fmtFloat(r.Perplexity)})
	}
	cw.Flush()
	return cw.Error()
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
