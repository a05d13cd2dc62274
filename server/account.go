package server

import (
	"errors"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
)

// What a signed-in user does with its own account, and what the console
// reads before anyone signs in.

// firstUser is the email of the first user serve created on this start,
// named on the sign-in page until that user has signed in once. The page
// is public, so the email is shown only for as long as it helps whoever
// just started webhookd and read its password off the terminal.
type firstUser struct {
	mu    sync.Mutex
	email string // "" once it has signed in, or when serve created none
}

func (f *firstUser) get() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.email
}

// signedIn forgets the email once its user has signed in.
func (f *firstUser) signedIn(email string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.email != "" && store.NormalizeEmail(email) == store.NormalizeEmail(f.email) {
		f.email = ""
	}
}

// consoleConfigJSON is what the console reads before signing in.
type consoleConfigJSON struct {
	// FirstUserEmail is the email of the first user serve created on
	// this start, until it signs in; null otherwise.
	FirstUserEmail *string `json:"firstUserEmail"`
}

func (s *Server) handleConsoleConfig(w http.ResponseWriter, r *http.Request) error {
	var out consoleConfigJSON
	if e := s.firstUser.get(); e != "" {
		out.FirstUserEmail = &e
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.json(w, http.StatusOK, out)
}

type passwordChangeRequest struct {
	CurrentPassword *string `json:"currentPassword"`
	NewPassword     *string `json:"newPassword"`
}

// handlePasswordChange changes the signed-in user's own password. It
// needs the current one (a token left open on someone's screen must not
// be enough to lock its owner out), ends every token issued before, as
// 'webhookd user passwd' does, and answers a new token so the console
// that asked stays signed in.
func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request) error {
	p := currentPrincipal(r)
	if p.kind != credentialUser || p.user == nil {
		return errorf(http.StatusForbidden, "only a user signed in with POST /api/v1/auth/login can change its password")
	}
	var req passwordChangeRequest
	if err := decode(w, r, MaxBodyBytes, &req); err != nil {
		return err
	}
	var details []FieldError
	if req.CurrentPassword == nil || *req.CurrentPassword == "" {
		details = append(details, FieldError{"currentPassword", "is required"})
	}
	switch {
	case req.NewPassword == nil || *req.NewPassword == "":
		details = append(details, FieldError{"newPassword", "is required"})
	case utf8.RuneCountInString(*req.NewPassword) < store.MinPasswordLength:
		details = append(details, FieldError{"newPassword", "must be at least 12 characters"})
	case len(*req.NewPassword) > 72:
		details = append(details, FieldError{"newPassword", "must be at most 72 bytes (bcrypt ignores the rest)"})
	case req.CurrentPassword != nil && *req.NewPassword == *req.CurrentPassword:
		details = append(details, FieldError{"newPassword", "must differ from the current password"})
	}
	if details != nil {
		return invalid(details...)
	}
	// A wrong current password counts as a failed login for the user's
	// email, so a stolen token cannot be used to guess it faster than
	// the sign-in page allows.
	keys := throttleKeys(p.user.Email, r)
	done, err := s.startCheck()
	if err != nil {
		return err
	}
	defer done()
	reservation, err := s.reserveLogin(r.Context(), keys)
	if err != nil {
		return err
	}
	if !auth.CheckPassword(p.user.PasswordHash, *req.CurrentPassword) {
		return invalid(FieldError{"currentPassword", "is not your current password"})
	}
	s.releaseLogin(r.Context(), reservation)
	hash, err := auth.HashPassword(*req.NewPassword)
	if err != nil {
		return err
	}
	// The change holds only if nothing changed the user since this
	// request was authenticated: an administrator's reset or disable made
	// while the password was being checked and hashed wins, and the new
	// token is for exactly the version this change made, never a later
	// one someone else made.
	version, err := s.store.ChangePassword(r.Context(), p.user.ID, p.user.TokenVersion, hash)
	if errors.Is(err, store.ErrConflict) {
		return unauthorized("your session ended while the password was being changed (the account was changed elsewhere); sign in again")
	}
	if err != nil {
		return err
	}
	token, err := s.tokens.Issue(p.user.ID, version)
	if err != nil {
		return err
	}
	return s.json(w, http.StatusOK, loginResponse{
		AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(s.tokens.TTL() / time.Second),
		User: userJSON{ID: p.user.ID, Email: p.user.Email, Tenant: p.user.TenantID},
	})
}

// memberJSON is one member of a tenant.
type memberJSON struct {
	ID         string  `json:"id"`
	Email      string  `json:"email"`
	CreatedAt  string  `json:"createdAt"`
	Disabled   bool    `json:"disabled"`
	DisabledAt *string `json:"disabledAt"`
	// You marks the member the request's credential belongs to.
	You bool `json:"you"`
}

// handleMemberList lists the webhookd users of the caller's tenant. A
// portal session is the tenant's console inside the CRM, for its
// webhooks; who may sign in to webhookd is not its business, so it is
// refused as it is for API keys.
func (s *Server) handleMemberList(w http.ResponseWriter, r *http.Request) error {
	p := currentPrincipal(r)
	if p.kind == credentialPortal {
		return errorf(http.StatusForbidden, "a portal session cannot see the tenant's members")
	}
	users, err := s.store.TenantMembers(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	out := make([]memberJSON, len(users))
	for i, u := range users {
		out[i] = memberJSON{ID: u.ID, Email: u.Email, CreatedAt: ts(u.CreatedAt), Disabled: u.DisabledAt != nil,
			DisabledAt: tsp(u.DisabledAt), You: p.user != nil && p.user.ID == u.ID}
	}
	return s.json(w, http.StatusOK, newList(out, ""))
}
