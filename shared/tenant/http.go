package tenant

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

// APIError translates a domain error into the HTTP error handlers write:
// ErrInvalidKey/ErrKeyRevoked/ErrKeyExpired → 401 invalid_api_key, ErrTenantSuspended,
// ErrUnknownPrincipal, ErrModelNotAllowed, ErrScope, ErrKeyPolicy → 403, and the shared kinds of
// package fault (ErrNotFound → 404, ErrExists → 409, ErrInvalid → 400) as httpapi maps
// them. Other errors pass through unchanged.
func APIError(err error) error {
	var (
		status   int
		code     string
		sentinel error
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInvalidKey), errors.Is(err, ErrKeyRevoked), errors.Is(err, ErrKeyExpired):
		// Never echo anything derived from the presented secret.
		msg := ErrInvalidKey.Error()
		for _, e := range []error{ErrKeyRevoked, ErrKeyExpired} {
			if errors.Is(err, e) {
				msg = e.Error()
			}
		}
		return &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeInvalidAPIKey, Message: msg}
	case errors.Is(err, ErrTenantSuspended):
		status, code, sentinel = http.StatusForbidden, httpapi.CodeTenantSuspended, ErrTenantSuspended
	case errors.Is(err, ErrUnknownPrincipal):
		status, code, sentinel = http.StatusForbidden, httpapi.CodeUnknownPrincipal, ErrUnknownPrincipal
	case errors.Is(err, ErrModelNotAllowed):
		status, code, sentinel = http.StatusForbidden, httpapi.CodeModelNotAllowed, ErrModelNotAllowed
	case errors.Is(err, ErrScope):
		status, code, sentinel = http.StatusForbidden, httpapi.CodeInsufficientScope, ErrScope
	case errors.Is(err, ErrKeyPolicy):
		status, code, sentinel = http.StatusForbidden, httpapi.CodePermissionDenied, ErrKeyPolicy
	default:
		return httpapi.FromError(err)
	}
	return &httpapi.Error{Status: status, Code: code, Message: strings.TrimSuffix(err.Error(), ": "+sentinel.Error())}
}

// Routes registers the admin API for tenants, keys and IAM mappings on mux. Admin
// authentication is applied by the caller around mux.
//
//	POST   /admin/tenants                                 201 tenant
//	GET    /admin/tenants                                 {"object":"list","data":[tenant]}
//	GET    /admin/tenants/{id}                            tenant
//	PATCH  /admin/tenants/{id}                            tenant (limits and cache merge)
//	POST   /admin/tenants/{id}/keys                       201 key with "key" (the secret, shown once)
//	GET    /admin/tenants/{id}/keys                       {"object":"list","data":[key]}
//	DELETE /admin/keys/{id}                               204
//	POST   /admin/tenants/{id}/iam-principals             201 {"arn","tenant","role","scopes"}
//	GET    /admin/tenants/{id}/iam-principals             {"object":"list","data":[…]}
//	DELETE /admin/tenants/{id}/iam-principals/{arn...}    204
//	POST   /admin/keys                                    201 platform key (auditor or platform-admin)
//	GET    /admin/keys                                    {"object":"list","data":[platform key]}
//	POST   /admin/iam-principals                          201 platform IAM mapping
//	GET    /admin/iam-principals                          {"object":"list","data":[…]}
//	DELETE /admin/iam-principals/{arn...}                 204
//
// Who may call each route is decided in front of mux (shared/access); a key created by
// a caller other than a platform admin is bound by the tenant's key policy.
func Routes(mux *http.ServeMux, svc *Service) {
	h := handlers{svc}
	mux.HandleFunc("POST /admin/tenants", h.createTenant)
	mux.HandleFunc("GET /admin/tenants", h.listTenants)
	mux.HandleFunc("GET /admin/tenants/{id}", h.getTenant)
	mux.HandleFunc("PATCH /admin/tenants/{id}", h.patchTenant)
	mux.HandleFunc("POST /admin/tenants/{id}/keys", h.createKey)
	mux.HandleFunc("GET /admin/tenants/{id}/keys", h.listKeys)
	mux.HandleFunc("DELETE /admin/keys/{id}", h.revokeKey)
	mux.HandleFunc("POST /admin/tenants/{id}/iam-principals", h.mapIAM)
	mux.HandleFunc("GET /admin/tenants/{id}/iam-principals", h.listIAM)
	mux.HandleFunc("DELETE /admin/tenants/{id}/iam-principals/{arn...}", h.unmapIAM)
	mux.HandleFunc("POST /admin/keys", h.createPlatformKey)
	mux.HandleFunc("GET /admin/keys", h.listPlatformKeys)
	mux.HandleFunc("POST /admin/iam-principals", h.mapPlatformIAM)
	mux.HandleFunc("GET /admin/iam-principals", h.listPlatformIAM)
	mux.HandleFunc("DELETE /admin/iam-principals/{arn...}", h.unmapPlatformIAM)
}

type handlers struct{ svc *Service }

type listBody[T any] struct {
	Object string `json:"object"`
	Data   []T    `json:"data"`
}

func list[T any](d []T) listBody[T] {
	if d == nil {
		d = []T{}
	}
	return listBody[T]{Object: "list", Data: d}
}

func fail(w http.ResponseWriter, err error) { httpapi.WriteError(w, APIError(err)) }

func (h handlers) createTenant(w http.ResponseWriter, r *http.Request) {
	var t Tenant
	if err := httpapi.DecodeJSON(w, r, &t, 1<<20); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	if t.ID == "" {
		httpapi.WriteError(w, httpapi.BadRequest("id", "id is required"))
		return
	}
	out, err := h.svc.CreateTenant(r.Context(), t)
	if err != nil {
		fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, out)
}

func (h handlers) listTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := h.svc.ListTenants(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, list(ts))
}

func (h handlers) getTenant(w http.ResponseWriter, r *http.Request) {
	t, err := h.svc.GetTenant(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, t)
}

// tenantPatch is a merge patch: absent fields are kept; limits and cache merge field by field.
type tenantPatch struct {
	Name            *string            `json:"name"`
	Status          *Status            `json:"status"`
	AllowedModels   *[]string          `json:"allowed_models"`
	Limits          json.RawMessage    `json:"limits"`
	IngestionLimits json.RawMessage    `json:"ingestion_limits"`
	GuardrailPolicy *string            `json:"guardrail_policy"`
	IsolationTier   *IsolationTier     `json:"isolation_tier"`
	Tags            *map[string]string `json:"tags"`
	Cache           json.RawMessage    `json:"cache"`
	KeyPolicy       *KeyPolicy         `json:"key_policy"`
}

func (h handlers) patchTenant(w http.ResponseWriter, r *http.Request) {
	var p tenantPatch
	if err := httpapi.DecodeJSON(w, r, &p, 1<<20); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	t, err := h.svc.UpdateTenant(r.Context(), r.PathValue("id"), func(t *Tenant) error {
		if p.Name != nil {
			t.Name = *p.Name
		}
		if p.Status != nil {
			t.Status = *p.Status
		}
		if p.AllowedModels != nil {
			t.AllowedModels = *p.AllowedModels
		}
		if p.GuardrailPolicy != nil {
			t.GuardrailPolicy = *p.GuardrailPolicy
		}
		if p.IsolationTier != nil {
			t.IsolationTier = *p.IsolationTier
		}
		if p.Tags != nil {
			t.Tags = *p.Tags
		}
		if p.KeyPolicy != nil {
			t.KeyPolicy = *p.KeyPolicy
		}
		if len(p.Limits) > 0 {
			if err := json.Unmarshal(p.Limits, &t.Limits); err != nil {
				return httpapi.BadRequest("limits", "limits: %v", err)
			}
		}
		if len(p.IngestionLimits) > 0 {
			if string(p.IngestionLimits) == "null" {
				t.IngestionLimits = nil
			} else {
				merged := t.IngestionBudget()
				if err := json.Unmarshal(p.IngestionLimits, &merged); err != nil {
					return httpapi.BadRequest("ingestion_limits", "ingestion_limits: %v", err)
				}
				t.IngestionLimits = &merged
			}
		}
		if len(p.Cache) > 0 {
			if err := json.Unmarshal(p.Cache, &t.Cache); err != nil {
				return httpapi.BadRequest("cache", "cache: %v", err)
			}
		}
		return nil
	})
	if err != nil {
		fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, t)
}

type createKeyBody struct {
	Name      string       `json:"name"`
	Role      auth.Role    `json:"role"`
	Scopes    []auth.Scope `json:"scopes"`
	ExpiresAt *time.Time   `json:"expires_at"`
	Limits    *Limits      `json:"limits"`
}

// CreatedKey is the response to key creation: the key record plus the secret.
type CreatedKey struct {
	*Key
	// Secret is shown only in this response.
	Secret string `json:"key"`
}

// decodeKeyBody reads a key request; an empty body means all defaults, like {}.
func decodeKeyBody(w http.ResponseWriter, r *http.Request) (createKeyBody, bool) {
	var b createKeyBody
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		httpapi.WriteError(w, &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Code: httpapi.CodeRequestTooLarge, Message: "request body exceeds 64 KiB"})
		return b, false
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &b); err != nil {
			httpapi.WriteError(w, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeInvalidJSON, "request body is not valid JSON: %v", err))
			return b, false
		}
	}
	return b, true
}

func (b createKeyBody) options(r *http.Request) KeyOptions {
	p, _ := auth.FromContext(r.Context())
	return KeyOptions{Name: b.Name, Role: b.Role, Scopes: b.Scopes, ExpiresAt: b.ExpiresAt, Limits: b.Limits, Delegated: !p.Admin}
}

func writeCreatedKey(w http.ResponseWriter, k *Key, secret string) {
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusCreated, CreatedKey{Key: k, Secret: secret})
}

func (h handlers) createKey(w http.ResponseWriter, r *http.Request) {
	b, ok := decodeKeyBody(w, r)
	if !ok {
		return
	}
	k, secret, err := h.svc.CreateKey(r.Context(), r.PathValue("id"), b.options(r))
	if err != nil {
		fail(w, err)
		return
	}
	writeCreatedKey(w, k, secret)
}

func (h handlers) createPlatformKey(w http.ResponseWriter, r *http.Request) {
	b, ok := decodeKeyBody(w, r)
	if !ok {
		return
	}
	k, secret, err := h.svc.CreatePlatformKey(r.Context(), b.options(r))
	if err != nil {
		fail(w, err)
		return
	}
	writeCreatedKey(w, k, secret)
}

func (h handlers) listPlatformKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := h.svc.ListPlatformKeys(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, list(ks))
}

func (h handlers) listKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := h.svc.ListKeys(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, list(ks))
}

func (h handlers) revokeKey(w http.ResponseWriter, r *http.Request) {
	k, err := h.svc.RevokeKey(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	audit.SetTenant(r.Context(), k.TenantID)
	w.WriteHeader(http.StatusNoContent)
}

type mapIAMBody struct {
	ARN    string       `json:"arn"`
	Role   auth.Role    `json:"role"`
	Scopes []auth.Scope `json:"scopes"`
}

func (h handlers) mapIAM(w http.ResponseWriter, r *http.Request) {
	h.mapIAMFor(w, r, r.PathValue("id"))
}

func (h handlers) mapPlatformIAM(w http.ResponseWriter, r *http.Request) { h.mapIAMFor(w, r, "") }

func (h handlers) mapIAMFor(w http.ResponseWriter, r *http.Request, tenantID string) {
	var b mapIAMBody
	if err := httpapi.DecodeJSON(w, r, &b, 1<<16); err != nil {
		httpapi.WriteError(w, err)
		return
	}
	p, err := h.svc.MapIAM(r.Context(), IAMPrincipal{ARN: b.ARN, TenantID: tenantID, Role: b.Role, Scopes: b.Scopes})
	if err != nil {
		fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, p)
}

func (h handlers) listPlatformIAM(w http.ResponseWriter, r *http.Request) {
	ps, err := h.svc.ListPlatformIAMPrincipals(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, list(ps))
}

func (h handlers) unmapPlatformIAM(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.UnmapIAMPrincipal(r.Context(), "", r.PathValue("arn")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h handlers) listIAM(w http.ResponseWriter, r *http.Request) {
	ps, err := h.svc.ListIAMPrincipals(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, list(ps))
}

func (h handlers) unmapIAM(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.UnmapIAMPrincipal(r.Context(), r.PathValue("id"), r.PathValue("arn")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
