// Package eval measures the guardrail detectors on the shared development data: PII span
// precision/recall/F1 on Presidio's synthetic set, Presidio's recognizer cases, prompt-attack
// TPR at a fixed FPR by k-fold cross-validation, and false positives on SQuAD questions.
package eval

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/plinth-ai/plinth/test/datasets"
)

// ErrNoData means the third-party datasets could not be found.
var ErrNoData = datasets.ErrMissing

// DataDir returns the third-party datasets directory (the PLINTH_DATASETS setting, see
// docs/datasets.md), failing with where to get the data when it is missing.
func DataDir() (string, error) { return datasets.Path() }

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
