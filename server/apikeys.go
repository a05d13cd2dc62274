package server

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
)

type apiKeyCreateRequest struct {
	Name *string `json:"name"`
}

type apiKeyJSON struct {
	ID         string  `json:"id"`
	Tenant     string  `json:"tenant"`
	Name       string  `json:"name"`
	Prefix     string  `json:"prefix"`
	Key        string  `json:"key,omitempty"`
	CreatedAt  string  `json:"createdAt"`
	LastUsedAt *string `json:"lastUsedAt"`
}

func toAPIKeyJSON(k store.APIKey) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Tenant: k.TenantID, Name: k.Name, Prefix: k.Prefix, CreatedAt: ts(k.CreatedAt), LastUsedAt: tsp(k.LastUsedAt)}
}

func (s *Server) handleAPIKeyCreate(w http.ResponseWriter, r *http.Request) error {
	var req apiKeyCreateRequest
	if err := decode(w, r, MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return invalid(FieldError{"name", "is required"})
	}
	name := strings.TrimSpace(*req.Name)
	if n := utf8.RuneCountInString(name); n == 0 || n > maxNameLength || hasControl(name) {
		return invalid(FieldError{"name", "must be 1 to 255 characters without control characters"})
	}
	key, hash, prefix, err := auth.NewAPIKey()
	if err != nil {
		return err
	}
	k, err := s.store.CreateAPIKey(r.Context(), store.NewAPIKey{TenantID: tenantOf(r), CreatedBy: currentPrincipal(r).member,
		Name: name, KeyHash: hash, Prefix: prefix})
	if err != nil {
		return err
	}
	out := toAPIKeyJSON(k)
	out.Key = key // shown this once; only its hash is stored
	return s.json(w, http.StatusCreated, out)
}

func (s *Server) handleAPIKeyList(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.store.ListAPIKeys(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	out := make([]apiKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = toAPIKeyJSON(k)
	}
	return s.json(w, http.StatusOK, newList(out, ""))
}

func (s *Server) handleAPIKeyDelete(w http.ResponseWriter, r *http.Request) error {
	id := param(r, "id")
	if !validID(id) {
		return notFound("API key")
	}
	if err := s.store.DeleteAPIKey(r.Context(), tenantOf(r), id); err != nil {
		return asNotFound(err, "API key")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
