package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
)

type userKey struct{}

// currentUser returns the authenticated user of a request.
func currentUser(r *http.Request) store.User {
	u, _ := r.Context().Value(userKey{}).(store.User)
	return u
}

func unauthorized(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Message: msg,
		Header: http.Header{"Www-Authenticate": {`Bearer realm="webhookd"`}}}
}

// authenticated requires a bearer JWT or API key and puts its user in the
// request context. The user is loaded on every request, so deleting a user
// ends its tokens at once.
func (s *Server) authenticated(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		user, err := s.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	}
}

// authenticate checks an Authorization header's bearer JWT or API key and
// returns its user; a credential that is not (or no longer) valid is a
// 401 *Error. Open event streams call it again every few seconds, so one
// rule decides when a credential ends, for new requests and open streams
// alike.
func (s *Server) authenticate(ctx context.Context, authorization string) (store.User, error) {
	scheme, credential, ok := strings.Cut(authorization, " ")
	credential = strings.TrimSpace(credential)
	if !ok || !strings.EqualFold(scheme, "Bearer") || credential == "" {
		return store.User{}, unauthorized("missing bearer token: send Authorization: Bearer <accessToken or API key>")
	}
	var user store.User
	var err error
	if auth.IsAPIKey(credential) {
		var key store.APIKey
		user, key, err = s.store.UserByAPIKeyHash(ctx, auth.HashAPIKey(credential))
		// lastUsedAt is kept to the minute, so a busy publisher does not
		// turn every request into a write.
		if err == nil && (key.LastUsedAt == nil || s.now().Sub(*key.LastUsedAt) > time.Minute) {
			if terr := s.store.TouchAPIKey(ctx, key.ID); terr != nil {
				s.logger.Warn("record api key use", "err", terr)
			}
		}
	} else {
		userID, version, verr := s.tokens.Verify(credential)
		// A subject that cannot be a user id (NUL bytes, say, which
		// PostgreSQL refuses) is refused before it reaches the store.
		if verr != nil || !validID(userID) {
			return store.User{}, unauthorized("invalid or expired token")
		}
		user, err = s.store.UserByID(ctx, userID)
		if err == nil && user.TokenVersion != version {
			// The password changed or the user was disabled since.
			return store.User{}, unauthorized("invalid or expired token")
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, unauthorized("invalid or expired token")
	}
	if err != nil {
		return store.User{}, err
	}
	if user.DisabledAt != nil {
		return store.User{}, unauthorized("this user is disabled")
	}
	return user, nil
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type userJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type loginResponse struct {
	AccessToken string   `json:"accessToken"`
	TokenType   string   `json:"tokenType"`
	ExpiresIn   int64    `json:"expiresIn"`
	User        userJSON `json:"user"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decode(w, r, MaxBodyBytes, &req); err != nil {
		return err
	}
	var details []FieldError
	switch {
	case strings.TrimSpace(req.Email) == "":
		details = append(details, FieldError{"email", "is required"})
	case hasControl(req.Email):
		// No stored email has one, and PostgreSQL refuses NUL in text.
		details = append(details, FieldError{"email", "must not contain control characters"})
	}
	if req.Password == "" {
		details = append(details, FieldError{"password", "is required"})
	}
	if details != nil {
		return invalid(details...)
	}
	keys := throttleKeys(req.Email, r)
	done, err := s.startCheck()
	if err != nil {
		return err
	}
	defer done()
	// The attempt counts as a failure from here on, unless it succeeds.
	reservation, err := s.reserveLogin(r.Context(), keys)
	if err != nil {
		return err
	}
	user, err := s.store.UserByEmail(r.Context(), req.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.releaseLogin(r.Context(), reservation)
		return err
	}
	// An unknown email still pays for a bcrypt comparison, so the answer's
	// timing does not reveal which emails exist.
	if !auth.CheckPassword(user.PasswordHash, req.Password) || err != nil {
		return unauthorized("invalid email or password")
	}
	// The right password is not a failure, whatever comes next.
	s.releaseLogin(r.Context(), reservation)
	if user.DisabledAt != nil {
		return unauthorized("this user is disabled")
	}
	if err := s.store.ClearLoginFailures(context.WithoutCancel(r.Context()), keys[0]); err != nil {
		s.logger.Warn("clear failed logins", "err", err)
	}
	token, err := s.tokens.Issue(user.ID, user.TokenVersion)
	if err != nil {
		return err
	}
	return s.json(w, http.StatusOK, loginResponse{
		AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(s.tokens.TTL() / time.Second),
		User: userJSON{ID: user.ID, Email: user.Email},
	})
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	u := currentUser(r)
	return s.json(w, http.StatusOK, userJSON{ID: u.ID, Email: u.Email})
}
