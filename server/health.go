package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/webhookd/webhookd/store"
)

// Readiness reports whether the delivery engine is running.
type Readiness interface {
	Running() bool
}

type healthResponse struct {
	Status  string            `json:"status"`
	Version string            `json:"version"`
	Checks  map[string]string `json:"checks,omitempty"`
}

// handleHealthz answers as long as the process serves HTTP.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	return s.json(w, http.StatusOK, healthResponse{Status: "ok", Version: s.version})
}

// handleReadyz checks the database (that it answers and takes writes), the
// migrations and the dispatcher.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "migrations": "ok", "dispatcher": "ok"}
	ready := true
	if err := s.store.Ping(ctx); err != nil {
		checks["database"], checks["migrations"], ready = "unreachable", "unknown", false
	} else if pending, err := s.store.PendingMigrations(ctx); err != nil {
		checks["migrations"], ready = "unknown", false
	} else if len(pending) > 0 {
		checks["migrations"], ready = "pending", false
	} else if err := s.store.WriteHealth(ctx); err != nil {
		// Reads answer but writes fail: a full disk, a read-only standby.
		checks["database"], ready = "writes failing", false
		if errors.Is(store.Fault(err), store.ErrFull) {
			checks["database"] = "full"
		}
	}
	if s.readiness != nil && !s.readiness.Running() {
		checks["dispatcher"], ready = "stopped", false
	}
	if !ready {
		return s.json(w, http.StatusServiceUnavailable, healthResponse{Status: "unavailable", Version: s.version, Checks: checks})
	}
	return s.json(w, http.StatusOK, healthResponse{Status: "ok", Version: s.version, Checks: checks})
}
