package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

type outboxDeadPage struct {
	Data []struct {
		ID, Reason, DeadAt string
		Tenant, Event      *string
		Data               json.RawMessage
	}
	NextCursor *string
}

// TestOutboxDeadList: GET /api/v1/outbox/dead pages through the dead rows
// for the service key (on SQLite, which has no outbox, none) and names a
// bad limit or cursor.
func TestOutboxDeadList(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		st := storetest.Open(t, db)
		raw, kind := openRaw(t, db)
		s := newTestServer(t, st)
		svc := serviceKey(t, st, "crm-backend")
		want := 0
		if kind == store.Postgres {
			// Three rows for a tenant that does not exist: all dead.
			want = 3
			for i := range want {
				if _, err := raw.Exec(`INSERT INTO webhook_outbox (tenant, event, data) VALUES ('ghost', 'message.new', $1::jsonb)`, fmt.Sprintf(`{"i":%d}`, i)); err != nil {
					t.Fatal(err)
				}
			}
			res, err := st.ConsumeOutbox(context.Background(), store.ConsumeOutboxParams{Limit: 10, Check: func(store.OutboxRow) string { return "" }})
			if err != nil || res.Dead != want {
				t.Fatalf("consume = %+v, %v; want %d dead", res, err, want)
			}
		}
		var all []string
		path := "/api/v1/outbox/dead?limit=2"
		for range 5 {
			var page outboxDeadPage
			s.call(t, http.MethodGet, path, svc, nil, http.StatusOK, &page)
			for _, d := range page.Data {
				all = append(all, d.ID)
				if d.Tenant == nil || *d.Tenant != "ghost" || d.Reason == "" || d.DeadAt == "" || string(d.Data) == "" {
					t.Errorf("dead row = %+v, want the row as inserted with a reason", d)
				}
			}
			if page.NextCursor == nil {
				break
			}
			path = "/api/v1/outbox/dead?limit=2&cursor=" + *page.NextCursor
		}
		if len(all) != want {
			t.Errorf("listed %v, want %d rows", all, want)
		}
		wantError(t, s.do(t, http.MethodGet, "/api/v1/outbox/dead?limit=0", svc, nil), http.StatusBadRequest, "limit")
		wantError(t, s.do(t, http.MethodGet, "/api/v1/outbox/dead?cursor=bm9wZQ", svc, nil), http.StatusBadRequest, "cursor")
	})
}
