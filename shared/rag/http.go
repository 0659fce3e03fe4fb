package rag

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/gateway"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/provider"
)

// Routes registers the knowledge-base API on mux (Go 1.22 patterns). Authentication
// middleware must have put an auth.Principal in the request context; the tenant of every
// /v1 call is the principal's, never one named in the body.
//
//	POST   /admin/knowledge-bases                         create (admin)        → 201
//	GET    /admin/knowledge-bases[?tenant=]               list (admin: every tenant's without ?tenant=; or the tenant with admin-read)
//	GET    /admin/knowledge-bases/{kb}[?tenant=]          get
//	DELETE /admin/knowledge-bases/{kb}[?tenant=]          delete with documents and index (admin)
//
// Without ?tenant=, an admin route's ID must name one tenant's knowledge base (else 400
// tenant_required), as for every tenant-owned resource of the admin API.
//
//	POST   /v1/knowledge-bases/{kb}/documents             multipart file (+ metadata JSON) → 202
//	GET    /v1/knowledge-bases/{kb}/documents             {"data":[…]}
//	GET    /v1/knowledge-bases/{kb}/documents/{id}
//	DELETE /v1/knowledge-bases/{kb}/documents/{id}
//	POST   /v1/knowledge-bases/{kb}/retrieve              {"query","top_k","search_type","filter"}
//	POST   /v1/knowledge-bases/{kb}/answer                retrieve fields + "model"
func Routes(mux *http.ServeMux, svc *Service) {
	h := &handlers{svc: svc}
	mux.HandleFunc("POST /admin/knowledge-bases", h.createKB)
	mux.HandleFunc("GET /admin/knowledge-bases", h.listKBs)
	mux.HandleFunc("GET /admin/knowledge-bases/{kb}", h.getKB)
	mux.HandleFunc("DELETE /admin/knowledge-bases/{kb}", h.deleteKB)
	mux.HandleFunc("POST /v1/knowledge-bases/{kb}/documents", h.upload)
	mux.HandleFunc("GET /v1/knowledge-bases/{kb}/documents", h.listDocs)
	mux.HandleFunc("GET /v1/knowledge-bases/{kb}/documents/{id}", h.getDoc)
	mux.HandleFunc("DELETE /v1/knowledge-bases/{kb}/documents/{id}", h.deleteDoc)
	mux.HandleFunc("POST /v1/knowledge-bases/{kb}/retrieve", h.retrieve)
	mux.HandleFunc("POST /v1/knowledge-bases/{kb}/answer", h.answer)
}

type handlers struct{ svc *Service }

// writeErr maps domain errors to the API's error shape.
func writeErr(w http.ResponseWriter, err error) {
	var he *httpapi.Error
	if gwErr, ok := gateway.APIError(err); ok {
		he = gwErr
	}
	switch {
	case he != nil || errors.As(err, &he):
		httpapi.WriteError(w, he)
	case errors.Is(err, ErrTooLarge):
		httpapi.WriteError(w, &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Code: httpapi.CodeRequestTooLarge, Param: "file", Message: fault.Message(err)})
	case errors.Is(err, ErrNoEmbedder), errors.Is(err, ErrNoChatModel):
		httpapi.WriteError(w, &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeModelUnavailable, Message: fault.Message(err)})
	case isProviderErr(err):
		httpapi.WriteError(w, modelError(err))
	default:
		httpapi.WriteError(w, httpapi.FromError(err))
	}
}

// modelError maps a failed model call that did not come through the gateway service
// (whose errors gateway.APIError maps) to the API error the caller sees: the code the
// provider error names when it is one of the API's, else one by kind.
func modelError(err error) *httpapi.Error {
	pe, _ := provider.AsError(err)
	msg := pe.Message
	if msg == "" {
		msg = pe.Error()
	}
	if pe.Status >= 400 && httpapi.KnownCode(pe.Code) {
		return &httpapi.Error{Status: pe.Status, Code: pe.Code, Message: msg, RetryAfter: pe.RetryAfter}
	}
	status, code := http.StatusBadGateway, httpapi.CodeUpstreamError
	switch pe.Kind {
	case provider.KindRateLimited:
		status, code = http.StatusTooManyRequests, httpapi.CodeUpstreamRateLimited
	case provider.KindTimeout:
		status, code = http.StatusGatewayTimeout, httpapi.CodeUpstreamTimeout
	case provider.KindUnavailable:
		status, code = http.StatusServiceUnavailable, httpapi.CodeUpstreamUnavailable
	case provider.KindBadRequest:
		status, code = http.StatusBadRequest, httpapi.CodeInvalidRequest
	case provider.KindContextLength:
		status, code = http.StatusBadRequest, httpapi.CodeContextLengthExceeded
	case provider.KindContentFilter:
		status, code = http.StatusBadRequest, httpapi.CodeContentFilter
	}
	return &httpapi.Error{Status: status, Code: code, Message: msg, RetryAfter: pe.RetryAfter}
}

func isProviderErr(err error) bool {
	_, ok := provider.AsError(err)
	return ok
}

func principal(r *http.Request) (auth.Principal, error) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return auth.Principal{}, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidAPIKey, "missing credentials")
	}
	return p, nil
}

// tenantFor resolves the tenant of a /v1 call: the principal's own. An admin principal
// without a tenant may name one with ?tenant=.
func tenantFor(r *http.Request) (string, error) {
	p, err := principal(r)
	if err != nil {
		return "", err
	}
	// Readers (admin-read) may list and read documents; everything else needs retrieval.
	if !p.Has(auth.ScopeRetrieval) && (r.Method != http.MethodGet || !p.Has(auth.ScopeAdminRead)) {
		return "", httpapi.Errorf(http.StatusForbidden, httpapi.CodeInsufficientScope, "this key lacks the retrieval scope knowledge bases need; create a key with \"scopes\":[\"retrieval\"]")
	}
	if p.TenantID != "" {
		return p.TenantID, nil
	}
	if p.Admin && r.URL.Query().Get("tenant") != "" {
		return r.URL.Query().Get("tenant"), nil
	}
	return "", httpapi.BadRequest("tenant", "the caller has no tenant")
}

// adminTenant checks that the caller may administer the tenant's knowledge bases. Which
// roles may read or change them is decided in front of the admin API (shared/access);
// this keeps a tenant's principal to its own tenant and read-only callers to reads.
func adminTenant(r *http.Request, tenant string, write bool) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	switch {
	case p.Admin:
		return nil
	case p.PlatformWide() && !write:
		return nil
	case p.TenantID != "" && p.TenantID == tenant && (write && p.Has(auth.ScopeAdmin) || !write && p.Has(auth.ScopeAdminRead)):
		return nil
	}
	return httpapi.Errorf(http.StatusForbidden, httpapi.CodePermissionDenied, "this credential may not administer the knowledge bases of tenant %s", tenant)
}

func (h *handlers) createKB(w http.ResponseWriter, r *http.Request) {
	var kb KnowledgeBase
	if err := httpapi.DecodeJSON(w, r, &kb, 0); err != nil {
		writeErr(w, err)
		return
	}
	if err := adminTenant(r, kb.Tenant, true); err != nil {
		writeErr(w, err)
		return
	}
	if kb.Tenant == "" {
		writeErr(w, httpapi.BadRequest("tenant", "tenant is required"))
		return
	}
	out, err := h.svc.CreateKnowledgeBase(r.Context(), kb)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, out)
}

func (h *handlers) listKBs(w http.ResponseWriter, r *http.Request) {
	p, err := principal(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	tenant := r.URL.Query().Get("tenant")
	if tenant == "" && !p.Admin {
		tenant = p.TenantID
	}
	if err := adminTenant(r, tenant, false); err != nil {
		writeErr(w, err)
		return
	}
	var kbs []KnowledgeBase
	if tenant == "" {
		kbs, err = h.svc.ListAllKnowledgeBases(r.Context())
	} else if err = h.svc.checkTenant(r.Context(), tenant); err == nil {
		kbs, err = h.svc.ListKnowledgeBases(r.Context(), tenant)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": kbs})
}

// adminKB finds the knowledge base an admin route names: by ?tenant= and ID, or by ID
// alone when one tenant has it. A tenant key with admin-read names its own tenant.
func (h *handlers) adminKB(r *http.Request, write bool) (KnowledgeBase, error) {
	p, err := principal(r)
	if err != nil {
		return KnowledgeBase{}, err
	}
	tenant := r.URL.Query().Get("tenant")
	if tenant == "" && !p.Admin {
		tenant = p.TenantID
	}
	if err := adminTenant(r, tenant, write); err != nil {
		return KnowledgeBase{}, err
	}
	if tenant == "" {
		return h.svc.FindKnowledgeBase(r.Context(), r.PathValue("kb"))
	}
	if err := h.svc.checkTenant(r.Context(), tenant); err != nil {
		return KnowledgeBase{}, err
	}
	return h.svc.GetKnowledgeBase(r.Context(), tenant, r.PathValue("kb"))
}

func (h *handlers) getKB(w http.ResponseWriter, r *http.Request) {
	kb, err := h.adminKB(r, false)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, kb)
}

func (h *handlers) deleteKB(w http.ResponseWriter, r *http.Request) {
	kb, err := h.adminKB(r, true)
	if err != nil {
		writeErr(w, err)
		return
	}
	audit.SetTenant(r.Context(), kb.Tenant)
	if err := h.svc.DeleteKnowledgeBase(r.Context(), kb.Tenant, kb.ID); err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"id": kb.ID, "tenant": kb.Tenant, "deleted": true})
}

func (h *handlers) upload(w http.ResponseWriter, r *http.Request) {
	tenant, err := tenantFor(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.svc.maxDoc+1<<20)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeErr(w, &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Code: httpapi.CodeRequestTooLarge, Param: "file",
				Message: fmt.Sprintf("the upload is over the %s limit of a knowledge-base document; split it into smaller files", mebibytes(h.svc.maxDoc))})
			return
		}
		writeErr(w, httpapi.BadRequest("file", "expected multipart/form-data with a file field: %v", err))
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, hdr, err := r.FormFile("file")
	if err != nil {
		writeErr(w, httpapi.BadRequest("file", "multipart field \"file\" is required"))
		return
	}
	defer f.Close()
	name := r.FormValue("name")
	if name == "" {
		name = hdr.Filename
	}
	var md map[string]any
	if raw := r.FormValue("metadata"); raw != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(raw), &obj); err != nil {
			writeErr(w, httpapi.BadRequest("metadata", "metadata must be a JSON object: %v", err))
			return
		}
		if inner, ok := obj["metadataAttributes"].(map[string]any); ok && len(obj) == 1 {
			obj = inner
		}
		md = obj
	}
	doc, err := h.svc.UploadDocument(r.Context(), tenant, r.PathValue("kb"), Upload{Name: name, ContentType: hdr.Header.Get("Content-Type"), Body: f, Metadata: md})
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, doc)
}

func (h *handlers) listDocs(w http.ResponseWriter, r *http.Request) {
	tenant, err := tenantFor(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	docs, err := h.svc.ListDocuments(r.Context(), tenant, r.PathValue("kb"))
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": docs})
}

func (h *handlers) getDoc(w http.ResponseWriter, r *http.Request) {
	tenant, err := tenantFor(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if _, err := h.svc.GetKnowledgeBase(r.Context(), tenant, r.PathValue("kb")); err != nil {
		writeErr(w, err)
		return
	}
	doc, err := h.svc.GetDocument(r.Context(), tenant, r.PathValue("kb"), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, doc)
}

func (h *handlers) deleteDoc(w http.ResponseWriter, r *http.Request) {
	tenant, err := tenantFor(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if err := h.svc.DeleteDocument(r.Context(), tenant, r.PathValue("kb"), r.PathValue("id")); err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "deleted": true})
}

func (h *handlers) retrieve(w http.ResponseWriter, r *http.Request) {
	tenant, err := tenantFor(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	var req RetrieveRequest
	if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
		writeErr(w, err)
		return
	}
	resp, err := h.svc.Retrieve(r.Context(), tenant, r.PathValue("kb"), req)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

func (h *handlers) answer(w http.ResponseWriter, r *http.Request) {
	tenant, err := tenantFor(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	var req AnswerRequest
	if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
		writeErr(w, err)
		return
	}
	resp, err := h.svc.Answer(r.Context(), tenant, r.PathValue("kb"), req)
	if err != nil {
		writeErr(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}
