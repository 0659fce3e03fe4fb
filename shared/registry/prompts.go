package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/store"
)

// Prompt is one immutable version of a named prompt template. Templates use
// {{input}} and {{context}} placeholders (evaluation suites render items with them).
type Prompt struct {
	ID          string `json:"id"`
	Version     int    `json:"version"`
	Template    string `json:"template"`
	System      string `json:"system,omitempty"`
	Description string `json:"description,omitempty"`
	// Tenant owns the prompt; empty for a platform-shared prompt every tenant may read and
	// use. Set by the first version; later versions must keep it.
	Tenant    string    `json:"tenant,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

func promptPK(id string) string { return "REGISTRY#PROMPT#" + id }

// promptIndexPK lists every prompt (one item per ID, rewritten with each version).
const promptIndexPK = "REGISTRY#PROMPTS"

// PromptInfo describes a prompt in the listing.
type PromptInfo struct {
	ID            string    `json:"id"`
	Tenant        string    `json:"tenant,omitempty"`
	LatestVersion int       `json:"latest_version"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// ListPrompts returns every prompt saved since the listing existed, ordered by ID.
func (s *Service) ListPrompts(ctx context.Context) ([]PromptInfo, error) {
	var out []PromptInfo
	after := ""
	for {
		items, err := s.st.Query(ctx, promptIndexPK, store.QueryOptions{After: after, Limit: 500})
		if err != nil {
			return nil, fmt.Errorf("list prompts: %w", err)
		}
		for _, it := range items {
			var pi PromptInfo
			if err := json.Unmarshal(it.Data, &pi); err != nil {
				return nil, fmt.Errorf("decode prompt listing %s: %w", it.SK, err)
			}
			out = append(out, pi)
		}
		if len(items) < 500 {
			return out, nil
		}
		after = items[len(items)-1].SK
	}
}
func promptSK(v int) string { return fmt.Sprintf("V#%06d", v) }

// SavePrompt stores a new version of the prompt (version 1 for a new ID). Versions are
// never changed afterwards, so an evaluation run that names one records exactly what it
// tested.
func (s *Service) SavePrompt(ctx context.Context, p Prompt, by string) (Prompt, error) {
	if !idPattern.MatchString(p.ID) {
		return Prompt{}, fault.New(ErrInvalid, "id", "prompt id %q must be 1-128 characters of letters, digits, '.', '_', ':', '/', '-'", p.ID)
	}
	if strings.TrimSpace(p.Template) == "" {
		return Prompt{}, fault.New(ErrInvalid, "template", "template is required")
	}
	for attempt := 0; attempt < 5; attempt++ {
		latest, err := s.Prompt(ctx, p.ID, 0)
		switch {
		case errors.Is(err, ErrPromptNotFound):
			p.Version = 1
		case err != nil:
			return Prompt{}, err
		case latest.Tenant != p.Tenant:
			return Prompt{}, fmt.Errorf("prompt %s belongs to %s and a new version keeps its owner: %w", p.ID, ownerName(latest.Tenant), ErrConflict)
		default:
			p.Version = latest.Version + 1
		}
		p.CreatedAt, p.CreatedBy = s.now().UTC(), by
		data, err := json.Marshal(p)
		if err != nil {
			return Prompt{}, err
		}
		listed, _ := json.Marshal(PromptInfo{ID: p.ID, Tenant: p.Tenant, LatestVersion: p.Version, UpdatedAt: p.CreatedAt})
		err = s.st.Transact(ctx, []store.Op{
			{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: promptPK(p.ID), SK: promptSK(p.Version)}, Data: data}, Options: store.WriteOptions{Cond: store.IfNotExists}},
			{Kind: store.OpPut, Item: store.Item{Key: store.Key{PK: promptIndexPK, SK: p.ID}, Data: listed}},
		})
		if errors.Is(err, store.ErrConditionFailed) || errors.Is(err, store.ErrTransactionConflict) {
			continue // another writer took this version number
		}
		if err != nil {
			return Prompt{}, fmt.Errorf("save prompt %s: %w", p.ID, err)
		}
		return p, nil
	}
	return Prompt{}, fmt.Errorf("save prompt %s: %w", p.ID, ErrConflict)
}

// Prompt returns a version of a prompt (0 = the latest).
func (s *Service) Prompt(ctx context.Context, id string, version int) (Prompt, error) {
	var it store.Item
	if version > 0 {
		var err error
		it, err = s.st.Get(ctx, store.Key{PK: promptPK(id), SK: promptSK(version)})
		if errors.Is(err, store.ErrNotFound) {
			return Prompt{}, fault.New(ErrPromptNotFound, "", "prompt %q has no version %d; list its versions with GET /admin/prompts/%s", id, version, id)
		}
		if err != nil {
			return Prompt{}, fmt.Errorf("get prompt %s: %w", id, err)
		}
	} else {
		items, err := s.st.Query(ctx, promptPK(id), store.QueryOptions{Prefix: "V#", Desc: true, Limit: 1})
		if err != nil {
			return Prompt{}, fmt.Errorf("get prompt %s: %w", id, err)
		}
		if len(items) == 0 {
			return Prompt{}, promptNotFound(id)
		}
		it = items[0]
	}
	var p Prompt
	if err := json.Unmarshal(it.Data, &p); err != nil {
		return Prompt{}, fmt.Errorf("decode prompt %s: %w", id, err)
	}
	return p, nil
}

// PromptVersions lists every version of a prompt, oldest first.
func (s *Service) PromptVersions(ctx context.Context, id string) ([]Prompt, error) {
	items, err := s.st.Query(ctx, promptPK(id), store.QueryOptions{Prefix: "V#"})
	if err != nil {
		return nil, fmt.Errorf("list prompt %s: %w", id, err)
	}
	if len(items) == 0 {
		return nil, promptNotFound(id)
	}
	out := make([]Prompt, 0, len(items))
	for _, it := range items {
		var p Prompt
		if err := json.Unmarshal(it.Data, &p); err != nil {
			return nil, fmt.Errorf("decode prompt %s: %w", id, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ownerName names a prompt's owner without revealing another tenant's ID.
func ownerName(tenant string) string {
	if tenant == "" {
		return "the platform"
	}
	return "another tenant"
}

// PromptRoutes registers the prompt-template admin API on mux:
//
//	POST /admin/prompts                              {"id","template","system","description"} → 201 the new version
//	GET  /admin/prompts/{id}                         {"object":"list","data":[every version]}
//	GET  /admin/prompts/{id}/versions/{version}      one version
func PromptRoutes(mux *http.ServeMux, svc *Service) {
	mux.HandleFunc("POST /admin/prompts", func(w http.ResponseWriter, r *http.Request) {
		var p Prompt
		if err := httpapi.DecodeJSON(w, r, &p, 0); err != nil {
			httpapi.WriteError(w, err)
			return
		}
		by, _ := auth.FromContext(r.Context())
		saved, err := svc.SavePrompt(r.Context(), p, by.KeyID)
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusCreated, saved)
	})
	mux.HandleFunc("GET /admin/prompts/{id}", func(w http.ResponseWriter, r *http.Request) {
		versions, err := svc.PromptVersions(r.Context(), r.PathValue("id"))
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": versions})
	})
	mux.HandleFunc("GET /admin/prompts/{id}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		v, err := strconv.Atoi(r.PathValue("version"))
		if err != nil || v < 1 {
			httpapi.WriteError(w, httpapi.BadRequest("version", "version must be a positive integer"))
			return
		}
		p, err := svc.Prompt(r.Context(), r.PathValue("id"), v)
		if err != nil {
			httpapi.WriteError(w, toHTTP(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, p)
	})
}

func promptNotFound(id string) error {
	return fault.New(ErrPromptNotFound, "", "prompt %q does not exist; create it with POST /admin/prompts", id)
}
