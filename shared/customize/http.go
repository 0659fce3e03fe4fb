package customize

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/registry"
)

// Routes registers the tenant API (OpenAI's files and fine-tuning endpoints) on mux.
// Requests must carry an authenticated tenant principal (the gateway's middleware).
func Routes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("POST /v1/files", svc.handleUpload)
	mux.HandleFunc("GET /v1/files", svc.handleListFiles)
	mux.HandleFunc("GET /v1/files/{id}", svc.handleGetFile)
	mux.HandleFunc("DELETE /v1/files/{id}", svc.handleDeleteFile)
	mux.HandleFunc("GET /v1/files/{id}/content", svc.handleFileContent)
	mux.HandleFunc("POST /v1/fine_tuning/jobs", svc.handleCreateJob)
	mux.HandleFunc("GET /v1/fine_tuning/jobs", svc.handleListJobs)
	mux.HandleFunc("GET /v1/fine_tuning/jobs/{id}", svc.handleGetJob)
	mux.HandleFunc("GET /v1/fine_tuning/jobs/{id}/events", svc.handleEvents)
	mux.HandleFunc("GET /v1/fine_tuning/jobs/{id}/checkpoints", svc.handleCheckpoints)
	mux.HandleFunc("POST /v1/fine_tuning/jobs/{id}/cancel", svc.handleCancel)
	mux.HandleFunc("POST /v1/fine_tuning/datasets", svc.handleBuildDataset)
}

// AdminRoutes registers the admin API: jobs across tenants and alias promotion and
// rollback. Callers must put admin authentication in front of these routes. Approval
// is the registry's review route (POST /admin/models/{id}/review).
func AdminRoutes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("GET /admin/fine_tuning/jobs", svc.handleAdminListJobs)
	mux.HandleFunc("GET /admin/fine_tuning/jobs/{id}", svc.handleAdminGetJob)
	mux.HandleFunc("GET /admin/fine_tuning/jobs/{id}/events", svc.handleAdminEvents)
	mux.HandleFunc("POST /admin/aliases/promote", svc.handlePromote)
	mux.HandleFunc("POST /admin/aliases/rollback", svc.handleRollback)
	mux.HandleFunc("GET /admin/aliases/history", svc.handleAliasHistory)
}

func toHTTP(err error) error {
	switch {
	case errors.Is(err, ErrForbidden):
		return &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeModelNotAllowed, Param: "model", Message: err.Error()}
	case errors.Is(err, registry.ErrNoHistory):
		return &httpapi.Error{Status: http.StatusNotFound, Code: httpapi.CodeNotFound, Param: "alias", Message: err.Error()}
	case errors.Is(err, registry.ErrNotInvocable):
		return &httpapi.Error{Status: http.StatusBadRequest, Code: httpapi.CodeModelNotApproved, Param: "model", Message: err.Error()}
	}
	return httpapi.FromError(err)
}

// caller returns the request's tenant and key ID.
func caller(r *http.Request) (tenant, keyID string, err error) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return "", "", httpapi.Errorf(http.StatusUnauthorized, "invalid_api_key", "authentication required")
	}
	if p.TenantID == "" {
		return "", "", httpapi.Errorf(http.StatusForbidden, "permission_denied", "fine-tuning belongs to a tenant; call it with a tenant's key")
	}
	if !p.Has(auth.ScopeInference) {
		return "", "", httpapi.Errorf(http.StatusForbidden, "permission_denied", "this key lacks the %q scope fine-tuning needs", auth.ScopeInference)
	}
	return p.TenantID, p.KeyID, nil
}

func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, httpapi.BadRequest(name, "%s must be a non-negative integer", name)
	}
	return n, nil
}

func (s *Service) handleUpload(w http.ResponseWriter, r *http.Request) {
	tenant, keyID, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxUpload+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		httpapi.WriteError(w, httpapi.BadRequest("file", "the body must be multipart/form-data with a file and a purpose"))
		return
	}
	var purpose, filename string
	var f *File
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.discardUpload(r, tenant, f)
			httpapi.WriteError(w, httpapi.BadRequest("file", "malformed multipart body: %v", err))
			return
		}
		switch part.FormName() {
		case "purpose":
			b, _ := io.ReadAll(io.LimitReader(part, 256))
			purpose = string(b)
		case "file":
			if f != nil {
				s.discardUpload(r, tenant, f)
				httpapi.WriteError(w, httpapi.BadRequest("file", "send one file per request"))
				return
			}
			filename = part.FileName()
			// The purpose may follow the file; the file is checked against it below.
			f, err = s.CreateFile(r.Context(), tenant, filename, PurposeFineTune, part, nil)
			if err != nil {
				httpapi.WriteError(w, toHTTP(err))
				return
			}
		}
		_ = part.Close()
	}
	switch {
	case f == nil:
		httpapi.WriteError(w, httpapi.BadRequest("file", "the multipart body has no file part"))
		return
	case purpose == "":
		s.discardUpload(r, tenant, f)
		httpapi.WriteError(w, httpapi.BadRequest("purpose", "purpose is required (fine-tune)"))
		return
	case purpose != PurposeFineTune:
		s.discardUpload(r, tenant, f)
		httpapi.WriteError(w, httpapi.BadRequest("purpose", "purpose %q is not supported here; use %q", purpose, PurposeFineTune))
		return
	}
	s.log.Info("file uploaded", "tenant", tenant, "key_id", keyID, "file", f.ID, "bytes", f.Bytes, "filename", filename)
	httpapi.WriteJSON(w, http.StatusOK, f)
}

func (s *Service) discardUpload(r *http.Request, tenant string, f *File) {
	if f != nil {
		_ = s.DeleteFile(r.Context(), tenant, f.ID)
	}
}

func (s *Service) handleListFiles(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	files, err := s.ListFiles(r.Context(), tenant, r.URL.Query().Get("purpose"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	page := Page[File]{Object: "list", Data: files}
	if limit = pageLimitFiles(limit); len(files) > limit {
		page.Data, page.HasMore = files[:limit], true
	}
	if len(page.Data) > 0 {
		page.FirstID, page.LastID = page.Data[0].ID, page.Data[len(page.Data)-1].ID
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

func pageLimitFiles(n int) int {
	if n <= 0 || n > 10000 {
		return 10000
	}
	return n
}

func (s *Service) handleGetFile(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	f, err := s.GetFile(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, f)
}

type deleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

func (s *Service) handleDeleteFile(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	id := r.PathValue("id")
	if err := s.DeleteFile(r.Context(), tenant, id); err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, deleted{ID: id, Object: "file", Deleted: true})
}

func (s *Service) handleFileContent(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	rc, f, err := s.FileContent(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(f.Bytes, 10))
	_, _ = io.Copy(w, rc)
}

func (s *Service) handleCreateJob(w http.ResponseWriter, r *http.Request) {
	tenant, keyID, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	var req JobRequest
	if err := httpapi.DecodeJSON(w, r, &req, 1<<20); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	j, err := s.CreateJob(r.Context(), tenant, req, keyID)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, j)
}

func (s *Service) handleListJobs(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	page, err := s.ListJobs(r.Context(), tenant, r.URL.Query().Get("after"), limit)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) handleGetJob(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	j, err := s.GetJob(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, j)
}

func (s *Service) handleEvents(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	page, err := s.ListEvents(r.Context(), tenant, r.PathValue("id"), r.URL.Query().Get("after"), limit)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) handleCheckpoints(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	page, err := s.ListCheckpoints(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request) {
	tenant, _, err := caller(r)
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	j, err := s.CancelJob(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, j)
}

func (s *Service) handleAdminListJobs(w http.ResponseWriter, r *http.Request) {
	tenant := r.URL.Query().Get("tenant")
	if tenant == "" {
		httpapi.WriteError(w, httpapi.BadRequest("tenant", "tenant is required"))
		return
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	page, err := s.ListJobs(r.Context(), tenant, r.URL.Query().Get("after"), limit)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) handleAdminGetJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.GetJob(r.Context(), "", r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, j)
}

// handleAdminEvents lists any job's events (its tenant's readers, the platform's
// auditors): the loss curve and the flow's progress without a tenant's inference key.
func (s *Service) handleAdminEvents(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit")
	if err != nil {
		httpapi.WriteError(w, err)
		return
	}
	page, err := s.ListEvents(r.Context(), "", r.PathValue("id"), r.URL.Query().Get("after"), limit)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

type aliasRequest struct {
	Alias string `json:"alias"`
	Model string `json:"model"`
}

func adminName(r *http.Request) string {
	if p, ok := auth.FromContext(r.Context()); ok && p.KeyID != "" {
		return p.KeyID
	}
	return "admin"
}

func (s *Service) handlePromote(w http.ResponseWriter, r *http.Request) {
	var req aliasRequest
	if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if req.Alias == "" || req.Model == "" {
		httpapi.WriteError(w, httpapi.BadRequest("alias", "alias and model are required"))
		return
	}
	p, err := s.PromoteAlias(r.Context(), req.Alias, req.Model, adminName(r))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	s.log.Info("alias promoted", "alias", p.Alias, "model", p.Model, "previous", p.Previous, "by", adminName(r))
	httpapi.WriteJSON(w, http.StatusOK, p)
}

func (s *Service) handleRollback(w http.ResponseWriter, r *http.Request) {
	var req aliasRequest
	if err := httpapi.DecodeJSON(w, r, &req, 0); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if req.Alias == "" {
		httpapi.WriteError(w, httpapi.BadRequest("alias", "alias is required"))
		return
	}
	p, err := s.RollbackAlias(r.Context(), req.Alias, adminName(r))
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	s.log.Info("alias rolled back", "alias", p.Alias, "model", p.Model, "from", p.Previous, "by", adminName(r))
	httpapi.WriteJSON(w, http.StatusOK, p)
}

func (s *Service) handleAliasHistory(w http.ResponseWriter, r *http.Request) {
	alias := r.URL.Query().Get("alias")
	if alias == "" {
		httpapi.WriteError(w, httpapi.BadRequest("alias", "alias is required"))
		return
	}
	moves, err := s.models.AliasHistory(r.Context(), alias)
	if err != nil {
		httpapi.WriteError(w, toHTTP(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": moves})
}
