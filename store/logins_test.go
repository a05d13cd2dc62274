package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// Issue 12 item 2: an attempt is counted when reserved, refused at the
// limit with when the throttle lifts, and uncounted when released.
func TestReserveLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		keys := []string{"email:a@x.io", "ip:1.2.3.4"}
		var first store.LoginReservation
		for i := range 3 {
			r, err := s.ReserveLogin(ctx, keys, 3, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if r.Refused() || len(r.IDs) != 2 {
				t.Fatalf("attempt %d: %+v, want two records", i+1, r)
			}
			if i == 0 {
				first = r
			}
		}
		refused, err := s.ReserveLogin(ctx, []string{"email:other@x.io", "ip:1.2.3.4"}, 3, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !refused.Refused() || len(refused.IDs) != 0 {
			t.Fatalf("fourth attempt from the address: %+v, want refused", refused)
		}
		if wait := time.Until(refused.Until); wait <= 0 || wait > time.Hour {
			t.Errorf("refused until %v from now, want within the hour", wait)
		}
		// The refused attempt counted nothing: the other email is free.
		if n, _, _ := s.LoginFailures(ctx, "email:other@x.io", s.Now().Add(-time.Hour)); n != 0 {
			t.Errorf("a refused attempt was counted: %d", n)
		}
		if err := s.ReleaseLogin(ctx, first); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if n, _, _ := s.LoginFailures(ctx, k, s.Now().Add(-time.Hour)); n != 2 {
				t.Errorf("%s after a release: %d attempts, want 2", k, n)
			}
		}
		if r, err := s.ReserveLogin(ctx, keys, 3, time.Hour); err != nil || r.Refused() {
			t.Fatalf("after a release: %+v, %v; want room for one more", r, err)
		}
	})
}
