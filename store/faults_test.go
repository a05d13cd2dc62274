package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestFaultClassifiesDatabaseFaults checks store.Fault on real failures of
// each dialect: SQLite out of space is ErrFull, PostgreSQL unreachable is
// ErrUnavailable, and ordinary errors (not found, conflict) are neither.
func TestFaultClassifiesDatabaseFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		s := storetest.Open(t, storetest.SQLitePath(t))
		u := newUser(t, s, "a@example.com")
		if _, err := s.CreateUser(ctx, "a@example.com", "h", ""); store.Fault(err) != nil || !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate user: %v, Fault %v; want a conflict that is no fault", err, store.Fault(err))
		}
		if _, err := s.Webhook(ctx, u.ID, store.NewID()); store.Fault(err) != nil {
			t.Errorf("missing webhook: Fault(%v) = %v, want nil", err, store.Fault(err))
		}
		if err := s.CapPages(ctx); err != nil {
			t.Fatal(err)
		}
		payload := []byte(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", 256<<10)))
		_, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: payload, OccurredAt: time.Now()}})
		if !errors.Is(store.Fault(err), store.ErrFull) {
			t.Errorf("publish with no room: %v, Fault %v; want ErrFull", err, store.Fault(err))
		}
	})
	t.Run("postgres", func(t *testing.T) {
		u, err := url.Parse(storetest.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		s := storetest.Open(t, u.String())
		if _, err := s.Webhook(ctx, store.NewID(), store.NewID()); store.Fault(err) != nil {
			t.Errorf("missing webhook: Fault(%v) = %v, want nil", err, store.Fault(err))
		}
		u.Host = "127.0.0.1:1" // nothing listens there
		_, err = store.Open(ctx, u.String())
		if !errors.Is(store.Fault(err), store.ErrUnavailable) {
			t.Errorf("open an unreachable PostgreSQL: %v, Fault %v; want ErrUnavailable", err, store.Fault(err))
		}
	})
}
