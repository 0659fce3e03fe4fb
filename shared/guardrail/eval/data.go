// Package eval measures the guardrail detectors on the shared development data: PII span
// precision/recall/F1 on Presidio's synthetic set, Presidio's recognizer cases, prompt-attack
// TPR at a fixed FPR by k-fold cross-validation, and false positives on SQuAD questions.
package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNoData means the shared data directory could not be found.
var ErrNoData = errors.New("eval: shared data directory not found")

// DataDir finds ../shared/data relative to the directory holding go.mod, walking up from dir.
func DataDir(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, "..", "shared", "data")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%w: %s", ErrNoData, p)
			}
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%w: no go.mod above %s", ErrNoData, dir)
		}
		d = parent
	}
}

// SynthSpan is a gold span of the Presidio synthetic set (code-point offsets).
type SynthSpan struct {
	EntityType string `json:"entity_type"`
	Value      string `json:"entity_value"`
	Start      int    `json:"start_position"`
	End        int    `json:"end_position"`
}

// SynthExample is one text with its gold spans.
type SynthExample struct {
	Text  string      `json:"full_text"`
	Spans []SynthSpan `json:"spans"`
}

// RecognizerCase is one Presidio recognizer test case.
type RecognizerCase struct {
	Source        string   `json:"source_test"`
	Entity        string   `json:"entity"`
	Text          string   `json:"text"`
	ExpectedLen   int      `json:"expected_len"`
	ExpectedSpans [][2]int `json:"expected_spans"`
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// LoadSynth reads pii/presidio_synth_dev.json.
func LoadSynth(dataDir string) ([]SynthExample, error) {
	var out []SynthExample
	return out, readJSON(filepath.Join(dataDir, "pii", "presidio_synth_dev.json"), &out)
}

// LoadRecognizerCases reads pii/presidio_recognizer_cases.json.
func LoadRecognizerCases(dataDir string) ([]RecognizerCase, error) {
	var out []RecognizerCase
	return out, readJSON(filepath.Join(dataDir, "pii", "presidio_recognizer_cases.json"), &out)
}

// PresidioToBedrock maps Presidio entity names to Bedrock PII type names. Presidio types
// with no Bedrock counterpart (GPE, ORGANIZATION, DATE_TIME, TITLE, NRP, ZIP_CODE) are absent.
var PresidioToBedrock = map[string]string{
	"PERSON":            "NAME",
	"STREET_ADDRESS":    "ADDRESS",
	"CREDIT_CARD":       "CREDIT_DEBIT_CARD_NUMBER",
	"PHONE_NUMBER":      "PHONE",
	"EMAIL_ADDRESS":     "EMAIL",
	"DOMAIN_NAME":       "URL",
	"URL":               "URL",
	"IBAN_CODE":         "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
	"US_SSN":            "US_SOCIAL_SECURITY_NUMBER",
	"IP_ADDRESS":        "IP_ADDRESS",
	"MAC_ADDRESS":       "MAC_ADDRESS",
	"US_DRIVER_LICENSE": "DRIVER_ID",
	"US_PASSPORT":       "US_PASSPORT_NUMBER",
	"US_BANK_NUMBER":    "US_BANK_ACCOUNT_NUMBER",
	"US_ITIN":           "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
	"UK_NHS":            "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
	"AGE":               "AGE",
}
