package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// outboxDB is a migrated PostgreSQL store and a plain connection to the
// same schema, as the CRM has.
func outboxDB(t *testing.T) (*store.Store, *sql.DB) {
	t.Helper()
	url := storetest.PostgresURL(t)
	s := storetest.Open(t, url)
	crm, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("open the CRM's connection: %v", err)
	}
	t.Cleanup(func() { crm.Close() })
	return s, crm
}

// knownTypes is a check standing in for server.CheckEvent (the app's is
// tested in package main): a known event type and some data.
func knownTypes(types ...string) store.OutboxCheck {
	return func(r store.OutboxRow) string {
		switch {
		case r.Event == nil:
			return "event is required"
		case !slices.Contains(types, *r.Event):
			return "event is not an event type in the catalogue"
		case r.Data == nil:
			return "data is required"
		}
		return ""
	}
}

// consumeAll consumes until the outbox is empty and adds up the results.
func consumeAll(t *testing.T, s *store.Store, p store.ConsumeOutboxParams) store.ConsumeOutboxResult {
	t.Helper()
	var sum store.ConsumeOutboxResult
	for {
		res, err := s.ConsumeOutbox(context.Background(), p)
		if err != nil {
			t.Fatalf("consume outbox: %v", err)
		}
		if res.Taken == 0 {
			return sum
		}
		sum.Taken += res.Taken
		sum.Events += res.Events
		sum.Duplicates += res.Duplicates
		sum.Dead += res.Dead
		sum.Deliveries += res.Deliveries
	}
}

// eventRows counts the events of tenant by their data's "row" field.
func eventRows(t *testing.T, crm *sql.DB, tenant string) map[int]int {
	t.Helper()
	rows, err := crm.Query(`SELECT payload FROM events WHERE tenant_id = $1 AND event_type <> 'webhook.disabled'`, tenant)
	if err != nil {
		t.Fatalf("read events: %v", err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			t.Fatalf("read events: %v", err)
		}
		var d struct{ Row int }
		if err := json.Unmarshal(payload, &d); err != nil {
			t.Fatalf("event payload %s: %v", payload, err)
		}
		out[d.Row]++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read events: %v", err)
	}
	return out
}

func countRows(t *testing.T, crm *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := crm.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestOutboxNeedsPostgres(t *testing.T) {
	s := storetest.Open(t, storetest.SQLitePath(t))
	ctx := context.Background()
	if _, err := s.ConsumeOutbox(ctx, store.ConsumeOutboxParams{Limit: 10, Check: knownTypes()}); !errors.Is(err, store.ErrOutboxUnsupported) {
		t.Errorf("ConsumeOutbox on SQLite = %v, want ErrOutboxUnsupported", err)
	}
	if _, _, err := s.ListOutboxDead(ctx, 0, 10); !errors.Is(err, store.ErrOutboxUnsupported) {
		t.Errorf("ListOutboxDead on SQLite = %v, want ErrOutboxUnsupported", err)
	}
	if _, err := s.RequeueOutboxDead(ctx, nil, true); !errors.Is(err, store.ErrOutboxUnsupported) {
		t.Errorf("RequeueOutboxDead on SQLite = %v, want ErrOutboxUnsupported", err)
	}
	if _, _, ok, err := s.CountOutbox(ctx); ok || err != nil {
		t.Errorf("CountOutbox on SQLite = ok %v, err %v; want no outbox and no error", ok, err)
	}
}

// TestOutboxCRMTransaction is the CRM's use: a business row and an outbox
// row in one transaction. The committed one becomes exactly one event with
// a delivery; the rolled-back one never existed.
func TestOutboxCRMTransaction(t *testing.T) {
	s, crm := outboxDB(t)
	ctx := context.Background()
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	hook := newWebhook(t, s, "acme", "contact.*")
	if _, err := crm.Exec(`CREATE TABLE crm_contacts (id bigserial PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	crmTx := func(name string, commit bool) {
		tx, err := crm.Begin()
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := tx.QueryRow(`INSERT INTO crm_contacts (name) VALUES ($1) RETURNING id`, name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO webhook_outbox (tenant, event, data, idempotency_key)
			VALUES ('acme', 'contact.created', jsonb_build_object('row', $1::bigint, 'name', $2::text), 'contact-' || $1::text)`, id, name); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	crmTx("Ada", true)
	crmTx("Bob", false)
	res := consumeAll(t, s, store.ConsumeOutboxParams{Limit: 100, Check: knownTypes("contact.created")})
	if res.Taken != 1 || res.Events != 1 || res.Deliveries != 1 || res.Dead != 0 {
		t.Errorf("consumed %+v, want 1 row into 1 event with 1 delivery", res)
	}
	var payload []byte
	var key string
	if err := crm.QueryRow(`SELECT payload, idempotency_key FROM events WHERE tenant_id = 'acme'`).Scan(&payload, &key); err != nil {
		t.Fatalf("the committed row's event: %v", err)
	}
	if string(payload) != `{"row":1,"name":"Ada"}` && string(payload) != `{"name":"Ada","row":1}` {
		t.Errorf("event data = %s, want the committed contact's, compacted", payload)
	}
	if key != "contact-1" {
		t.Errorf("event idempotency key = %q, want contact-1", key)
	}
	if n := countRows(t, crm, "events"); n != 1 {
		t.Errorf("%d events, want 1: the rolled-back transaction must make none", n)
	}
	var deliveries int
	if err := crm.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE webhook_id = $1`, hook.ID).Scan(&deliveries); err != nil || deliveries != 1 {
		t.Errorf("deliveries to the webhook = %d (%v), want 1", deliveries, err)
	}
	if n := countRows(t, crm, "webhook_outbox"); n != 0 {
		t.Errorf("%d rows left in webhook_outbox, want 0", n)
	}
}

// TestOutboxDeadRows: rows that cannot become events are set aside with
// their reason while the good rows around them flow, and come back when
// requeued once the cause is fixed.
func TestOutboxDeadRows(t *testing.T) {
	s, crm := outboxDB(t)
	ctx := context.Background()
	for _, id := range []string{"acme", "beta"} {
		if _, _, err := s.PutTenant(ctx, id, store.TenantParams{}); err != nil {
			t.Fatal(err)
		}
	}
	newWebhook(t, s, "acme", "*")
	insert := func(tenant, event, data, key any) int64 {
		t.Helper()
		var id int64
		if err := crm.QueryRow(`INSERT INTO webhook_outbox (tenant, event, data, idempotency_key) VALUES ($1, $2, $3::jsonb, $4) RETURNING id`,
			tenant, event, data, key).Scan(&id); err != nil {
			t.Fatalf("insert outbox row: %v", err)
		}
		return id
	}
	good := func(row int) int64 { return insert("acme", "message.new", fmt.Sprintf(`{"row":%d}`, row), nil) }
	good(1)
	unknownType := insert("acme", "nope.never", `{"row":100}`, nil)
	good(2)
	noData := insert("acme", "message.new", nil, nil)
	unknownTenant := insert("gamma", "message.new", `{"row":3}`, nil)
	noTenant := insert(nil, "message.new", `{"row":4}`, nil) // two tenants, no owner
	badTenant := insert("not a tenant!", "message.new", `{"row":101}`, nil)
	keyed := insert("acme", "message.new", `{"row":5}`, "k1")
	insert("acme", "message.new", `{"row":5}`, "k1") // the same again: a duplicate
	conflict := insert("acme", "message.new", `{"row":102}`, "k1")
	good(6)

	res := consumeAll(t, s, store.ConsumeOutboxParams{Limit: 100, Check: knownTypes("message.new")})
	if res.Taken != 11 || res.Events != 4 || res.Duplicates != 1 || res.Dead != 6 {
		t.Errorf("consumed %+v, want 11 rows: 4 events, 1 duplicate, 6 dead", res)
	}
	if got := eventRows(t, crm, "acme"); len(got) != 4 || got[1] != 1 || got[2] != 1 || got[5] != 1 || got[6] != 1 {
		t.Errorf("acme's events by row = %v, want rows 1, 2, 5 and 6 once each", got)
	}
	dead, next, err := s.ListOutboxDead(ctx, 0, 100)
	if err != nil || next != 0 {
		t.Fatalf("list dead: next %d, %v", next, err)
	}
	reasons := map[int64]string{}
	for _, d := range dead {
		reasons[d.ID] = d.Reason
	}
	for id, want := range map[int64]string{unknownType: "catalogue", noData: "data", unknownTenant: `"gamma" does not exist`,
		noTenant: "--outbox-owner", badTenant: "not a tenant id", conflict: "idempotency_key"} {
		if r, ok := reasons[id]; !ok || !strings.Contains(r, want) {
			t.Errorf("dead row %d: reason %q, want one mentioning %q", id, r, want)
		}
	}
	if _, ok := reasons[keyed]; ok {
		t.Errorf("the first row with key k1 is dead, want it an event")
	}
	if d := dead[0]; d.Event == nil || *d.Event != "nope.never" || string(d.Data) != `{"row":100}` || d.Tenant == nil || *d.Tenant != "acme" {
		t.Errorf("first dead row = %+v, want the row as inserted", d)
	}
	// A page of two, then the rest.
	page, next, err := s.ListOutboxDead(ctx, 0, 2)
	if err != nil || len(page) != 2 || next != page[1].ID {
		t.Fatalf("first page = %d rows, next %d, %v", len(page), next, err)
	}
	rest, next, err := s.ListOutboxDead(ctx, next, 100)
	if err != nil || len(rest) != 4 || next != 0 {
		t.Fatalf("second page = %d rows, next %d, %v", len(rest), next, err)
	}
	if waiting, n, ok, err := s.CountOutbox(ctx); err != nil || !ok || waiting != 0 || n != 6 {
		t.Errorf("CountOutbox = %d waiting, %d dead, %v, %v; want 0 and 6", waiting, n, ok, err)
	}

	// Fix two causes and requeue those rows (and one that is not dead).
	if _, _, err := s.PutTenant(ctx, "gamma", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	newWebhook(t, s, "gamma", "*")
	moved, err := s.RequeueOutboxDead(ctx, []int64{unknownTenant, noTenant, keyed}, false)
	if err != nil || len(moved) != 2 {
		t.Fatalf("requeue = %v, %v; want the two dead rows", moved, err)
	}
	res = consumeAll(t, s, store.ConsumeOutboxParams{Limit: 100, Owner: "gamma", Check: knownTypes("message.new")})
	if res.Events != 2 || res.Dead != 0 {
		t.Errorf("after requeue consumed %+v, want 2 events", res)
	}
	if got := eventRows(t, crm, "gamma"); len(got) != 2 || got[3] != 1 || got[4] != 1 {
		t.Errorf("gamma's events by row = %v, want rows 3 and 4 (the NULL tenant, now --outbox-owner's)", got)
	}
	moved, err = s.RequeueOutboxDead(ctx, nil, true)
	if err != nil || len(moved) != 4 {
		t.Fatalf("requeue --all = %v, %v; want the 4 rows still dead", moved, err)
	}
	if res := consumeAll(t, s, store.ConsumeOutboxParams{Limit: 100, Check: knownTypes("message.new")}); res.Dead != 4 {
		t.Errorf("the unfixed rows consumed %+v, want dead again", res)
	}
}

// TestOutboxDeadRowsKeptAsWritten: a dead row lands in
// webhook_outbox_dead with every column as the CRM wrote it (NULLs,
// timestamps to the microsecond, the data as the same jsonb value), whether
// it was set aside by the check, for its tenant, for its idempotency key
// (the batch then taken again a row at a time) or for its size unread.
func TestOutboxDeadRowsKeptAsWritten(t *testing.T) {
	s, crm := outboxDB(t)
	ctx := context.Background()
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	newWebhook(t, s, "acme", "*")
	if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data, idempotency_key, occurred_at, created_at) VALUES
		('acme', 'nope.never', '{"b": [1.50, -0, 1e3, "é\\u0000x", null], "a": {"z": true}}', 'k0', '2026-01-02 03:04:05.123456+00', '2026-01-02 03:04:06.654321+00'),
		('acme', 'message.new', NULL, NULL, NULL, NULL),
		(NULL, NULL, '"just a string"', NULL, now(), now()),
		('gamma', 'message.new', '[1, 2]', 'k9', NULL, now()),
		('acme', 'message.new', '{"row": 1}', 'k1', now(), now()),
		('acme', 'message.new', '{"row": 2}', 'k1', now(), now()),
		('acme', 'message.new', jsonb_build_object('blob', repeat('x', 3000)), NULL, now(), now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := crm.Exec(`CREATE TABLE outbox_as_written AS SELECT * FROM webhook_outbox`); err != nil {
		t.Fatal(err)
	}
	// Two tenants and no owner: the NULL tenant is dead too.
	if _, _, err := s.PutTenant(ctx, "beta", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	res := consumeAll(t, s, store.ConsumeOutboxParams{Limit: 100, Check: knownTypes("message.new"), MaxDataBytes: 1000})
	if res.Taken != 7 || res.Events != 1 || res.Dead != 6 {
		t.Fatalf("consumed %+v, want 7 rows: 1 event, 6 dead", res)
	}
	var same, dead int
	if err := crm.QueryRow(`SELECT COUNT(*) FILTER (WHERE w.tenant IS NOT DISTINCT FROM d.tenant AND w.event IS NOT DISTINCT FROM d.event
			AND w.data IS NOT DISTINCT FROM d.data AND w.idempotency_key IS NOT DISTINCT FROM d.idempotency_key
			AND w.occurred_at IS NOT DISTINCT FROM d.occurred_at AND w.created_at IS NOT DISTINCT FROM d.created_at), COUNT(*)
		FROM webhook_outbox_dead d JOIN outbox_as_written w USING (id)`).Scan(&same, &dead); err != nil {
		t.Fatal(err)
	}
	if dead != 6 || same != 6 {
		t.Errorf("webhook_outbox_dead: %d of %d rows as written, want 6 of 6", same, dead)
	}
	if n := countRows(t, crm, "webhook_outbox"); n != 0 {
		t.Errorf("%d rows left in webhook_outbox, want 0", n)
	}
}

// TestOutboxSoleTenant: with one tenant and no --outbox-owner, a NULL
// tenant is that tenant, as a single-tenant installation expects.
func TestOutboxSoleTenant(t *testing.T) {
	s, crm := outboxDB(t)
	u := newUser(t, s, "admin@localhost")
	newWebhook(t, s, u.TenantID, "*")
	if _, err := crm.Exec(`INSERT INTO webhook_outbox (event, data) VALUES ('message.new', '{"row":1}')`); err != nil {
		t.Fatal(err)
	}
	res := consumeAll(t, s, store.ConsumeOutboxParams{Limit: 10, Check: knownTypes("message.new")})
	if res.Events != 1 || res.Deliveries != 1 {
		t.Errorf("consumed %+v, want 1 event for the only tenant", res)
	}
	if got := eventRows(t, crm, u.TenantID); got[1] != 1 {
		t.Errorf("the only tenant's events = %v, want row 1", got)
	}
}

// TestOutboxConsumersShare: consumers on two stores (two processes) and
// several goroutines each take one outbox together; every row becomes
// exactly one event.
func TestOutboxConsumersShare(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := storetest.Open(t, url), storetest.Open(t, url)
	crm, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer crm.Close()
	ctx := context.Background()
	if _, _, err := a.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	newWebhook(t, a, "acme", "*")
	const rows = 3000
	if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data) SELECT 'acme', 'message.new', jsonb_build_object('row', g) FROM generate_series(1, $1) g`, rows); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total store.ConsumeOutboxResult
	for i := range 6 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for {
				res, err := s.ConsumeOutbox(ctx, store.ConsumeOutboxParams{Limit: 50, Check: knownTypes("message.new")})
				if err != nil {
					t.Errorf("consume: %v", err)
					return
				}
				if res.Taken == 0 {
					return
				}
				mu.Lock()
				total.Taken += res.Taken
				total.Events += res.Events
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if total.Taken != rows || total.Events != rows {
		t.Errorf("consumers took %d rows into %d events, want %d each", total.Taken, total.Events, rows)
	}
	got := eventRows(t, crm, "acme")
	for i := 1; i <= rows; i++ {
		if got[i] != 1 {
			t.Errorf("row %d became %d events, want 1", i, got[i])
		}
	}
	if len(got) != rows {
		t.Errorf("%d distinct rows became events, want %d", len(got), rows)
	}
}

// TestOutboxHugeRowsAreNotAllRead is a careless CRM writing rows of 9 MB
// of data each: a batch took all of its 1,000 rows into memory at once
// (9 GB, twice over with the parallel batches), so the process died, and
// died again on the same rows each time it restarted. A batch now stops
// at outboxBatchBytes of data, and a row far past the data limit is dead
// without its data being read, its data kept in webhook_outbox_dead.
func TestOutboxHugeRowsAreNotAllRead(t *testing.T) {
	s, crm := outboxDB(t)
	ctx := context.Background()
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	newWebhook(t, s, "acme", "*")
	insertHuge := func(n int) {
		t.Helper()
		if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data)
			SELECT 'acme', 'message.new', jsonb_build_object('row', g, 'blob', repeat('x', 9000000)) FROM generate_series(1, $1) g`, n); err != nil {
			t.Fatalf("insert huge outbox rows: %v", err)
		}
	}

	// No data limit: the batch reads as many as fit in 32 MiB, and says
	// more are waiting.
	insertHuge(4)
	p := store.ConsumeOutboxParams{Limit: 1000, Check: knownTypes("message.new")}
	res, err := s.ConsumeOutbox(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Taken != 3 || res.Events != 3 || !res.Limited {
		t.Fatalf("first batch of four 9 MB rows: %+v, want 3 taken (27 MB of a 32 MiB budget), 3 events, Limited", res)
	}
	res, err = s.ConsumeOutbox(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Taken != 1 || res.Events != 1 || res.Limited {
		t.Fatalf("second batch: %+v, want the last row, not Limited", res)
	}

	// With the 1 MiB limit, such rows are dead unread, all in one batch.
	insertHuge(4)
	p.MaxDataBytes = 1 << 20
	res, err = s.ConsumeOutbox(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Taken != 4 || res.Dead != 4 || res.Events != 0 || res.Limited {
		t.Fatalf("four 9 MB rows past a 1 MiB limit: %+v, want 4 taken, 4 dead", res)
	}
	var dead, kept int
	var reason string
	if err := crm.QueryRow(`SELECT COUNT(*), COUNT(*) FILTER (WHERE octet_length(data->>'blob') = 9000000), MIN(reason)
		FROM webhook_outbox_dead`).Scan(&dead, &kept, &reason); err != nil {
		t.Fatal(err)
	}
	if dead != 4 || kept != 4 || !strings.Contains(reason, "data is larger than 1048576 bytes") {
		t.Fatalf("webhook_outbox_dead: %d rows, %d with their data whole, reason %q; want 4, 4 and the size named", dead, kept, reason)
	}
	if n := countRows(t, crm, "webhook_outbox"); n != 0 {
		t.Fatalf("%d rows left in webhook_outbox, want 0", n)
	}
}

// TestOutboxDeadListPagesByBytes is a flood of dead rows of 3 MB each: a
// page of the default 50 read and answered 150 MB, and of 100, 300 MB. A
// page now stops at outboxDeadPageBytes (8 MiB) of data, with at least one
// row, and the cursor goes on from there.
func TestOutboxDeadListPagesByBytes(t *testing.T) {
	s, crm := outboxDB(t)
	ctx := context.Background()
	if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data)
		SELECT 'ghost', 'message.new', jsonb_build_object('row', g, 'blob', repeat('x', 3000000)) FROM generate_series(1, 7) g`); err != nil {
		t.Fatal(err)
	}
	if res := consumeAll(t, s, store.ConsumeOutboxParams{Limit: 100, Check: knownTypes("message.new")}); res.Dead != 7 {
		t.Fatalf("consumed %+v, want 7 dead (no tenant ghost)", res)
	}
	var sizes []int
	after := int64(0)
	for range 10 {
		page, next, err := s.ListOutboxDead(ctx, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page))
		for _, d := range page {
			if len(d.Data) < 3000000 {
				t.Fatalf("dead row %d listed with %d bytes of data, want it whole", d.ID, len(d.Data))
			}
		}
		if next == 0 {
			break
		}
		after = next
	}
	if !slices.Equal(sizes, []int{2, 2, 2, 1}) {
		t.Fatalf("pages of 3 MB dead rows held %v rows, want [2 2 2 1] (8 MiB a page)", sizes)
	}
}

// TestOutboxPoisonRowDoesNotStopTheBatch: a row whose event PostgreSQL
// refuses with an error nobody foresaw (here a trigger on events, as a
// CRM's or an extension's could be) goes to the dead rows with that
// error, and the rows around it, in the same batch, become events. Before,
// the error failed the whole batch, again on every try.
func TestOutboxPoisonRowDoesNotStopTheBatch(t *testing.T) {
	s, crm := outboxDB(t)
	ctx := context.Background()
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	newWebhook(t, s, "acme", "*")
	for _, q := range []string{
		`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'poisoned payload' USING ERRCODE = '22023'; END; $$`,
		`CREATE TRIGGER refuse_poison BEFORE INSERT ON events FOR EACH ROW
		WHEN (position('poison'::bytea IN NEW.payload) > 0) EXECUTE FUNCTION refuse_poison()`,
	} {
		if _, err := crm.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var poison int64
	for i := 1; i <= 5; i++ {
		data := fmt.Sprintf(`{"row":%d}`, i)
		if i == 3 {
			data = `{"row":3,"x":"poison"}`
		}
		var id int64
		if err := crm.QueryRow(`INSERT INTO webhook_outbox (tenant, event, data) VALUES ('acme', 'message.new', $1::jsonb) RETURNING id`, data).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			poison = id
		}
	}
	res, err := s.ConsumeOutbox(ctx, store.ConsumeOutboxParams{Limit: 100, Check: knownTypes("message.new")})
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	if res.Taken != 5 || res.Events != 4 || res.Dead != 1 || res.Deliveries != 4 {
		t.Errorf("consumed %+v, want 5 rows taken in one batch: 4 events with a delivery each, 1 dead", res)
	}
	if got := eventRows(t, crm, "acme"); len(got) != 4 || got[1] != 1 || got[2] != 1 || got[4] != 1 || got[5] != 1 {
		t.Errorf("events by row = %v, want rows 1, 2, 4 and 5 once each", got)
	}
	dead, _, err := s.ListOutboxDead(ctx, 0, 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead rows = %+v, %v; want the poisoned one", dead, err)
	}
	if dead[0].ID != poison || !strings.Contains(dead[0].Reason, "poisoned payload") {
		t.Errorf("dead row %d with reason %q, want row %d with the trigger's error", dead[0].ID, dead[0].Reason, poison)
	}
	if n := countRows(t, crm, "webhook_outbox"); n != 0 {
		t.Errorf("%d rows left in webhook_outbox, want 0", n)
	}
	// A fault of the database, not of a row, still fails the batch and
	// buries nothing: the rows wait for the next try.
	if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data) VALUES ('acme', 'message.new', '{"row":6}')`); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ConsumeOutbox(cctx, store.ConsumeOutboxParams{Limit: 100, Check: knownTypes("message.new")}); err == nil {
		t.Fatal("consume with an ended context succeeded")
	}
	if n := countRows(t, crm, "webhook_outbox"); n != 1 {
		t.Errorf("%d rows left in webhook_outbox after a failed batch, want 1", n)
	}
	if _, n, _, err := s.CountOutbox(ctx); err != nil || n != 1 {
		t.Errorf("dead rows after a failed batch: %d, %v; want still 1", n, err)
	}
}

// TestOutboxOversizeRowOfAMissingTenantIsDeadOnce: a row too large to read
// whose tenant does not exist either is one dead row, counted once, with
// its size as the reason (it is set aside before its tenant is looked at).
// Found by the attack review of the faster consumer.
func TestOutboxOversizeRowOfAMissingTenantIsDeadOnce(t *testing.T) {
	s, crm := outboxDB(t)
	ctx := context.Background()
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	newWebhook(t, s, "acme", "*")
	if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data) VALUES
		('ghost', 'message.new', jsonb_build_object('row', 1, 'blob', repeat('x', 3000))),
		('acme', 'message.new', jsonb_build_object('row', 2))`); err != nil {
		t.Fatal(err)
	}
	res, err := s.ConsumeOutbox(ctx, store.ConsumeOutboxParams{Limit: 10, Check: knownTypes("message.new"), MaxDataBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Taken != 2 || res.Events != 1 || res.Dead != 1 {
		t.Errorf("result %+v: want 2 taken, 1 event, 1 dead", res)
	}
	var n int
	var reason string
	if err := crm.QueryRow(`SELECT COUNT(*), MIN(reason) FROM webhook_outbox_dead`).Scan(&n, &reason); err != nil {
		t.Fatal(err)
	}
	if n != 1 || !strings.Contains(reason, "larger than 1000 bytes") {
		t.Errorf("%d dead rows, reason %q: want one, dead for its size", n, reason)
	}
	if got := eventRows(t, crm, "acme"); got[2] != 1 || len(got) != 1 {
		t.Errorf("events by row = %v, want row 2 once", got)
	}
}

// TestOutboxInfiniteTimestamps: 'infinity' and '-infinity' are timestamps
// PostgreSQL accepts and Go's time cannot hold. A row whose occurred_at is
// one is dead with a reason naming the column, its dead copy keeps the
// value as written (listed with a null time, requeued as it was), and the
// rows behind it become events; an infinite created_at, which no event
// carries, is no reason to refuse a row. Before, reading such a row failed
// its batch on every try and stopped the outbox (found by the attack
// review).
func TestOutboxInfiniteTimestamps(t *testing.T) {
	s, crm := outboxDB(t)
	ctx := context.Background()
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	newWebhook(t, s, "acme", "*")
	if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data, occurred_at, created_at) VALUES
		('acme', 'message.new', '{"row":1}', 'infinity', now()),
		('acme', 'message.new', '{"row":2}', now(), now()),
		('acme', 'message.new', '{"row":3}', '-infinity', '-infinity'),
		('acme', 'message.new', '{"row":4}', now(), 'infinity')`); err != nil {
		t.Fatal(err)
	}
	res, err := s.ConsumeOutbox(ctx, store.ConsumeOutboxParams{Limit: 10, Check: knownTypes("message.new")})
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	if res.Taken != 4 || res.Events != 2 || res.Dead != 2 {
		t.Errorf("result %+v: want 4 taken, 2 events, 2 dead", res)
	}
	if got := eventRows(t, crm, "acme"); got[2] != 1 || got[4] != 1 || len(got) != 2 {
		t.Errorf("events by row = %v, want rows 2 and 4 once each", got)
	}
	dead, _, err := s.ListOutboxDead(ctx, 0, 10)
	if err != nil {
		t.Fatalf("list dead rows: %v", err)
	}
	if len(dead) != 2 {
		t.Fatalf("%d dead rows listed, want 2", len(dead))
	}
	for i, want := range []string{"occurred_at is infinity", "occurred_at is -infinity"} {
		if !strings.Contains(dead[i].Reason, want) || dead[i].OccurredAt != nil {
			t.Errorf("dead row %d: reason %q, occurredAt %v; want %q and no time", dead[i].ID, dead[i].Reason, dead[i].OccurredAt, want)
		}
	}
	var kept int
	if err := crm.QueryRow(`SELECT COUNT(*) FROM webhook_outbox_dead WHERE (occurred_at = 'infinity' AND isfinite(created_at))
		OR (occurred_at = '-infinity' AND created_at = '-infinity')`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept != 2 {
		t.Errorf("%d dead rows keep their timestamps as written, want 2", kept)
	}
	if _, err := s.RequeueOutboxDead(ctx, nil, true); err != nil {
		t.Fatalf("requeue: %v", err)
	}
	if err := crm.QueryRow(`SELECT COUNT(*) FROM webhook_outbox WHERE NOT isfinite(occurred_at)`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept != 2 {
		t.Errorf("%d requeued rows with their infinite occurred_at, want 2", kept)
	}
}
