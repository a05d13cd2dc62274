package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
)

// maxTenantMetadataBytes caps a tenant's metadata object.
const maxTenantMetadataBytes = 16 << 10

type tenantPutRequest struct {
	Name     *string         `json:"name"`
	Metadata json.RawMessage `json:"metadata"`
}

type tenantJSON struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Metadata  json.RawMessage `json:"metadata"`
	Webhooks  *int64          `json:"webhooks,omitempty"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
}

func toTenantJSON(t store.Tenant) tenantJSON {
	return tenantJSON{ID: t.ID, Name: t.Name, Metadata: t.Metadata, CreatedAt: ts(t.CreatedAt), UpdatedAt: ts(t.UpdatedAt)}
}

// tenantParam reads the route's tenant id: a 404 for one that cannot be a
// tenant's, as for any unknown id.
func tenantParam(r *http.Request) (string, error) {
	id := param(r, "id")
	if !store.ValidTenantID(id) {
		return "", tenantNotFound(id)
	}
	return id, nil
}

// handleTenantPut creates the tenant named in the path, or updates the
// name and metadata it is given: 201 when created, 200 otherwise, so the
// CRM may call it whenever one of its accounts is created or changes.
func (s *Server) handleTenantPut(w http.ResponseWriter, r *http.Request) error {
	id := param(r, "id")
	if !store.ValidTenantID(id) {
		return invalid(FieldError{"id", "must match " + store.TenantIDPattern + " (the CRM's own account id, such as acme or org_123)"})
	}
	var req tenantPutRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, MaxBodyBytes, &req); err != nil {
			return err
		}
	}
	var bad []FieldError
	if req.Name != nil {
		name := strings.TrimSpace(*req.Name)
		if utf8.RuneCountInString(name) > maxNameLength || hasControl(name) {
			bad = append(bad, FieldError{"name", "must be at most 255 characters without control characters"})
		}
		req.Name = &name
	}
	var metadata json.RawMessage
	if req.Metadata != nil {
		var obj map[string]json.RawMessage
		compact, notJSON, err := compactData(req.Metadata, "metadata")
		switch {
		case err != nil:
			return err
		case notJSON != nil:
			bad = append(bad, *notJSON)
		case json.Unmarshal(compact, &obj) != nil || obj == nil:
			bad = append(bad, FieldError{"metadata", "must be a JSON object"})
		case len(compact) > maxTenantMetadataBytes:
			bad = append(bad, FieldError{"metadata", "must be at most 16 KiB"})
		default:
			metadata = compact
		}
	}
	if bad != nil {
		return invalid(bad...)
	}
	t, created, err := s.store.PutTenant(r.Context(), id, store.TenantParams{Name: req.Name, Metadata: metadata})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/tenants/"+url.PathEscape(t.ID))
	}
	return s.json(w, status, toTenantJSON(t))
}

func (s *Server) handleTenantGet(w http.ResponseWriter, r *http.Request) error {
	id, err := tenantParam(r)
	if err != nil {
		return err
	}
	t, err := s.store.Tenant(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return tenantNotFound(id)
	}
	if err != nil {
		return err
	}
	return s.json(w, http.StatusOK, toTenantJSON(t))
}

func (s *Server) handleTenantList(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParamsOf(r, 50, 100, func(c string) (string, bool) { return decodeCursorOf(c, store.ValidTenantID) })
	if err != nil {
		return err
	}
	tenants, next, err := s.store.ListTenants(r.Context(), page.Before, page.Limit)
	if err != nil {
		return err
	}
	out := make([]tenantJSON, len(tenants))
	for i, t := range tenants {
		out[i] = toTenantJSON(t.Tenant)
		out[i].Webhooks = &t.Webhooks
	}
	return s.json(w, http.StatusOK, newList(out, next))
}

// handleTenantDelete removes a tenant and all of its data; its pending
// deliveries go with it and are never sent.
func (s *Server) handleTenantDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := tenantParam(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteTenant(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return tenantNotFound(id)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DefaultPortalTTL is how long a portal session lasts unless expiresIn
// says otherwise.
const DefaultPortalTTL = time.Hour

type portalSessionRequest struct {
	// ExpiresIn is the session's lifetime in seconds (default 3600, at
	// most 86400).
	ExpiresIn *int64 `json:"expiresIn"`
	ReadOnly  bool   `json:"readOnly"`
}

type portalSessionJSON struct {
	URL       string `json:"url"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
	ReadOnly  bool   `json:"readOnly"`
}

// handlePortalSessionCreate makes a portal session for the tenant: a
// token for that tenant alone, and a console URL that carries it in the
// fragment, which browsers never send, so no proxy or access log sees it.
func (s *Server) handlePortalSessionCreate(w http.ResponseWriter, r *http.Request) error {
	id, err := tenantParam(r)
	if err != nil {
		return err
	}
	var req portalSessionRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, MaxBodyBytes, &req); err != nil {
			return err
		}
	}
	ttl := DefaultPortalTTL
	if req.ExpiresIn != nil {
		if *req.ExpiresIn < 60 || *req.ExpiresIn > int64(auth.MaxPortalTTL/time.Second) {
			return invalid(FieldError{"expiresIn", "must be a number of seconds from 60 to 86400 (24 hours)"})
		}
		ttl = time.Duration(*req.ExpiresIn) * time.Second
	}
	created, err := s.checkTenant(r.Context(), id, false)
	if err != nil {
		return err
	}
	token, expires, err := s.tokens.IssuePortal(id, created, req.ReadOnly, ttl)
	if err != nil {
		return err
	}
	return s.json(w, http.StatusCreated, portalSessionJSON{
		URL: s.consoleURL(r) + "#portal=" + token, Token: token, ExpiresAt: ts(expires), ReadOnly: req.ReadOnly,
	})
}

// consoleURL is the console's address as the browser will reach it:
// --public-url when set, else the scheme and host this request came to.
func (s *Server) consoleURL(r *http.Request) string {
	if s.publicURL != "" {
		return strings.TrimSuffix(s.publicURL, "/") + "/"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/"
}
