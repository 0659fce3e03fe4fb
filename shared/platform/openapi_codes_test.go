package platform

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/httpapi"
)

// TestOpenAPIListsEveryErrorCode checks that the document's Error schema lists exactly the
// codes of httpapi.Codes, each with its meaning.
func TestOpenAPIListsEveryErrorCode(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum        []any  `json:"enum"`
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	code := doc.Components.Schemas["Error"].Properties["code"]
	listed := map[string]bool{}
	for _, v := range code.Enum {
		if s, ok := v.(string); ok {
			listed[s] = true
		}
	}
	for _, c := range httpapi.Codes {
		if !listed[c.Code] {
			t.Errorf("code %s is not in the document's Error.code enum", c.Code)
		}
		if !strings.Contains(code.Description, "`"+c.Code+"`") {
			t.Errorf("code %s has no meaning in the Error.code description", c.Code)
		}
		delete(listed, c.Code)
	}
	for c := range listed {
		t.Errorf("the document lists code %s, which httpapi.Codes does not have", c)
	}
}
