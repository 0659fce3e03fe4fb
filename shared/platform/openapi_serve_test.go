package platform

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/plinth-ai/plinth/shared/audit"
)

// The document is held compressed; what the deployed API serves and what OpenAPI
// returns must still be the merged document, byte for byte, on every call.
func TestOpenAPIServedFromCompressedCopy(t *testing.T) {
	want, err := mergeOpenAPI(openAPIFragments)
	if err != nil {
		t.Fatal(err)
	}
	first := OpenAPI()
	if !bytes.Equal(first, want) {
		t.Fatalf("OpenAPI() (%d bytes) differs from the merged fragments (%d bytes)", len(first), len(want))
	}
	first[0] = 'x' // callers own their copy
	if again := OpenAPI(); !bytes.Equal(again, want) {
		t.Fatal("a caller changing its copy changed the next OpenAPI()")
	}
	if len(openAPICompressed()) >= len(want)/4 {
		t.Errorf("held copy is %d bytes for a %d-byte document: not compressed", len(openAPICompressed()), len(want))
	}
	rec := httptest.NewRecorder()
	serveOpenAPI(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), want) {
		t.Fatalf("GET /openapi.json = %d %q, %d bytes; want 200 application/json, the %d-byte document", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), len(want))
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatal("served document is not JSON")
	}
}

// Audit events are named from the fragments directly, without merging the document at
// start-up: the names must be exactly those the merged document gives.
func TestAuditOperationsMatchMergedDocument(t *testing.T) {
	fromDoc, err := audit.NewOperations(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	fromFragments, err := fragmentOperations(openAPIFragments)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromFragments, fromDoc) {
		t.Fatal("operation names read from the fragments differ from the merged document's")
	}
	if auditOperations().Name("POST /admin/tenants") != "createTenant" {
		t.Fatalf("POST /admin/tenants is named %q, want createTenant", auditOperations().Name("POST /admin/tenants"))
	}
}
