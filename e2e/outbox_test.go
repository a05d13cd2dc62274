package e2e

// The transactional outbox (issue 17) through the real binary on the real
// PostgreSQL: rows the CRM commits become events and arrive; a process
// killed with SIGKILL mid-batch loses and doubles nothing; two processes
// share one outbox; bad rows are set aside, listed, counted and requeued.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the CRM's own connection

	"github.com/webhookd/webhookd/store/storetest"
)

// crmConn is a plain connection to db, as the CRM has.
func crmConn(t testing.TB, db string) *sql.DB {
	t.Helper()
	c, err := sql.Open("pgx", db)
	if err != nil {
		t.Fatalf("open the CRM's connection: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func countOf(t testing.TB, c *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := c.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestE2EOutboxNeedsPostgres(t *testing.T) {
	t.Parallel()
	r := webhookd(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "w.db"), "--outbox")
	if r.code == 0 {
		t.Fatalf("serve --outbox on SQLite started: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "--outbox needs PostgreSQL") {
		t.Errorf("stderr = %q, want one line saying --outbox needs PostgreSQL", r.stderr)
	}
	// outbox requeue on SQLite says what the outbox needs, without the
	// store's internals.
	sqlite := filepath.Join(t.TempDir(), "w.db")
	mustWebhookd(t, nil, "", "migrate", "up", "--db", sqlite)
	if r := webhookd(t, nil, "", "outbox", "dead", "--db", sqlite); r.code == 0 || !strings.Contains(r.stderr, "an SQLite database") || strings.Contains(r.stderr, "store:") {
		t.Errorf("outbox dead on SQLite: %s\nwant an error saying the outbox is PostgreSQL's, without a store: prefix", r)
	}
	if r := webhookd(t, nil, "", "outbox", "requeue", "--db", sqlite, "--all"); r.code == 0 || !strings.Contains(r.stderr, "an SQLite database") || strings.Contains(r.stderr, "store:") {
		t.Errorf("outbox requeue on SQLite: %s\nwant an error saying the outbox is PostgreSQL's, without a store: prefix", r)
	}
	r = webhookd(t, []string{"WEBHOOKD_OUTBOX_OWNER=acme"}, "", "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "w.db"))
	if r.code == 0 || !strings.Contains(r.stderr, "--outbox-owner needs --outbox") {
		t.Errorf("WEBHOOKD_OUTBOX_OWNER without --outbox: %s", r)
	}
}

// TestE2EOutboxKillAndShare: 20,000 rows with a NULL tenant (the only
// tenant's: a single-tenant installation), a process killed with SIGKILL
// while it consumes them, then two processes finishing them and 20,000
// more: every row becomes exactly one event.
func TestE2EOutboxKillAndShare(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	crm := crmConn(t, db)
	mustWebhookd(t, adminEnv, "", "migrate", "up", "--db", db)
	const rows = 20000
	insert := func(from int) {
		t.Helper()
		if _, err := crm.Exec(`INSERT INTO webhook_outbox (event, data, idempotency_key)
			SELECT 'message.new', jsonb_build_object('row', g), 'row-' || g FROM generate_series($1::int, $2::int) g`, from, from+rows-1); err != nil {
			t.Fatalf("insert outbox rows: %v", err)
		}
	}
	insert(1)
	a := startServe(t, db, adminEnv, "--outbox")
	waitFor(t, 60*time.Second, func() (bool, string) {
		n := countOf(t, crm, `SELECT COUNT(*) FROM events`)
		return n > 0, "the first events"
	})
	a.signal(syscall.SIGKILL)
	a.wait(30 * time.Second)
	left := countOf(t, crm, `SELECT COUNT(*) FROM webhook_outbox`)
	t.Logf("killed the consumer with %d of %d rows left", left, rows)

	b := startServe(t, db, adminEnv, "--outbox")
	c := startServe(t, db, nil, "--outbox")
	insert(rows + 1)
	waitFor(t, 120*time.Second, func() (bool, string) {
		n := countOf(t, crm, `SELECT COUNT(*) FROM webhook_outbox`)
		return n == 0, fmt.Sprintf("the outbox to empty, %d rows left", n)
	})
	if n := countOf(t, crm, `SELECT COUNT(*) FROM webhook_outbox_dead`); n != 0 {
		t.Errorf("%d dead rows, want none", n)
	}
	if n := countOf(t, crm, `SELECT COUNT(*) FROM events`); n != 2*rows {
		t.Errorf("%d events, want %d: one per row", n, 2*rows)
	}
	if n := countOf(t, crm, `SELECT COUNT(*) FROM (SELECT idempotency_key FROM events GROUP BY idempotency_key HAVING COUNT(*) <> 1) x`); n != 0 {
		t.Errorf("%d rows became more than one event", n)
	}
	if n := countOf(t, crm, `SELECT COUNT(DISTINCT idempotency_key) FROM events WHERE idempotency_key LIKE 'row-%'`); n != 2*rows {
		t.Errorf("%d distinct rows became events, want %d", n, 2*rows)
	}
	for _, p := range []*serveProc{b, c} {
		if !strings.Contains(p.stderr.String(), "outbox=true") {
			t.Errorf("serve did not log that it consumes the outbox:\n%s", p.output())
		}
	}
	b.stop()
	c.stop()
}

// waitArrived waits until the events with data.n in ns have arrived.
func waitArrived(t testing.TB, rc *receiver, ns ...int) {
	t.Helper()
	waitFor(t, 30*time.Second, func() (bool, string) {
		got := rc.answeredByN()
		for _, n := range ns {
			if got[n] == 0 {
				return false, fmt.Sprintf("the event with n=%d, have %v", n, got)
			}
		}
		return true, ""
	})
}

// TestE2EOutboxDeadRows: good rows arrive at the receiver while bad ones
// are set aside; the service key lists them, status and /metrics count
// them, and outbox requeue brings them back once the cause is fixed.
func TestE2EOutboxDeadRows(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	crm := crmConn(t, db)
	mustWebhookd(t, adminEnv, "", "migrate", "up", "--db", db)
	mustWebhookd(t, nil, "", "tenant", "create", "--id", "acme", "--db", db)
	key := strings.TrimSpace(mustWebhookd(t, nil, "", "apikey", "create", "--service", "--name", "crm", "--db", db).stdout)
	p := startServe(t, db, adminEnv, "--outbox", "--outbox-owner", "acme")
	rc := newReceiver(t)
	acme := api{t: t, base: p.URL, token: key}
	if r := acme.client().Do(t, http.MethodPost, "/api/v1/webhooks", fmt.Sprintf(`{"name":"crm","url":%q,"events":["message.new"]}`, rc.URL), "Webhookd-Tenant", "acme"); r.Status != http.StatusCreated {
		t.Fatalf("create %s's webhook: %d %s", "acme", r.Status, r.Body)
	}

	// One CRM transaction: two good rows around two bad ones.
	tx, err := crm.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO webhook_outbox (tenant, event, data) VALUES ('acme', 'message.new', '{"n":1}')`,
		`INSERT INTO webhook_outbox (tenant, event, data) VALUES ('nobody', 'message.new', '{"n":2}')`,
		`INSERT INTO webhook_outbox (event, data) VALUES ('no.such.type', '{"n":3}')`,
		`INSERT INTO webhook_outbox (event, data) VALUES ('message.new', '{"n":4}')`,
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitArrived(t, rc, 1, 4)
	if got := rc.answeredByN(); got[1] != 1 || got[4] != 1 {
		t.Errorf("arrivals by n = %v, want 1 and 4 (the NULL tenant is --outbox-owner's)", got)
	}
	var dead struct {
		Data []struct {
			ID, Reason string
			Tenant     *string
			Data       json.RawMessage
		}
		NextCursor *string
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		acme.json(http.MethodGet, "/api/v1/outbox/dead", "", http.StatusOK, &dead)
		return len(dead.Data) == 2, fmt.Sprintf("two dead rows, have %d", len(dead.Data))
	})
	if !strings.Contains(dead.Data[0].Reason, `"nobody" does not exist`) || !strings.Contains(dead.Data[1].Reason, "catalogue") {
		t.Errorf("dead rows = %+v, want the unknown tenant's and the unknown type's with their reasons", dead.Data)
	}
	// Only the service key lists them.
	token := login(t, p.URL, adminEmail, adminPassword)
	if status, _ := (api{t: t, base: p.URL, token: token}).call(http.MethodGet, "/api/v1/outbox/dead", ""); status != http.StatusForbidden {
		t.Errorf("a user's token lists dead rows: %d, want 403", status)
	}
	var page struct {
		Data       []json.RawMessage
		NextCursor *string
	}
	acme.json(http.MethodGet, "/api/v1/outbox/dead?limit=1", "", http.StatusOK, &page)
	if len(page.Data) != 1 || page.NextCursor == nil {
		t.Fatalf("first page of one = %+v, want one row and a cursor", page)
	}
	acme.json(http.MethodGet, "/api/v1/outbox/dead?limit=1&cursor="+*page.NextCursor, "", http.StatusOK, &page)
	if len(page.Data) != 1 || page.NextCursor != nil {
		t.Errorf("second page = %+v, want the last row and no cursor", page)
	}

	// The operator's view of the same rows, with no server or key.
	listed := mustWebhookd(t, nil, "", "outbox", "dead", "--db", db).stdout
	for _, d := range dead.Data {
		if !strings.Contains(listed, d.ID+" ") || !strings.Contains(listed, oneLineReason(d.Reason)) {
			t.Errorf("outbox dead does not list row %s with its reason %q:\n%s", d.ID, d.Reason, listed)
		}
	}
	if !strings.Contains(listed, "ID  ") || !strings.Contains(listed, "nobody") || !strings.Contains(listed, "no.such.type") || strings.Contains(listed, "more:") {
		t.Errorf("outbox dead = %q, want a header, the rows' tenant and type, and no next page", listed)
	}
	first := mustWebhookd(t, nil, "", "outbox", "dead", "--db", db, "--limit", "1").stdout
	if !strings.Contains(first, dead.Data[0].ID+" ") || strings.Contains(first, dead.Data[1].ID+" ") || !strings.Contains(first, "more: webhookd outbox dead --after "+dead.Data[0].ID) {
		t.Errorf("outbox dead --limit 1 = %q, want row %s and the command for the next page", first, dead.Data[0].ID)
	}
	rest := mustWebhookd(t, nil, "", "outbox", "dead", "--db", db, "--after", dead.Data[0].ID).stdout
	if strings.Contains(rest, dead.Data[0].ID+" ") || !strings.Contains(rest, dead.Data[1].ID+" ") {
		t.Errorf("outbox dead --after %s = %q, want row %s only", dead.Data[0].ID, rest, dead.Data[1].ID)
	}
	if r := webhookd(t, nil, "", "outbox", "dead", "--db", db, "--limit", "0"); r.code == 0 || !strings.Contains(r.stderr, "--limit must be between 1 and 1000") {
		t.Errorf("outbox dead --limit 0: %s", r)
	}

	status := mustWebhookd(t, nil, "", "status", "--db", db)
	if !strings.Contains(status.stdout, "outbox:   0 rows waiting, 2 dead") {
		t.Errorf("status does not show the dead rows:\n%s", status.stdout)
	}
	resp, err := httpClient.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		metrics.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	for _, want := range []string{`webhookd_outbox_rows{state="dead"} 2`, `webhookd_outbox_consumed_rows_total{outcome="dead"} 2`, `webhookd_outbox_consumed_rows_total{outcome="event"} 2`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Fix the tenant, requeue its row: it arrives.
	mustWebhookd(t, nil, "", "tenant", "create", "--id", "nobody", "--db", db)
	if r := acme.client().Do(t, http.MethodPost, "/api/v1/webhooks", fmt.Sprintf(`{"name":"crm","url":%q,"events":["message.new"]}`, rc.URL), "Webhookd-Tenant", "nobody"); r.Status != http.StatusCreated {
		t.Fatalf("create %s's webhook: %d %s", "nobody", r.Status, r.Body)
	}
	if r := webhookd(t, nil, "", "outbox", "requeue", "--db", db, "999999"); r.code == 0 || !strings.Contains(r.stderr, "no dead row with id 999999; nothing was requeued") {
		t.Errorf("requeue of an unknown id: %s", r)
	}
	// A known id beside an unknown one: the known one goes back, and
	// both the output and the error say which was which.
	r := webhookd(t, nil, "", "outbox", "requeue", "--db", db, dead.Data[0].ID, "999999")
	if r.code == 0 || !strings.Contains(r.stdout, "requeued 1 row(s): "+dead.Data[0].ID) || !strings.Contains(r.stderr, "no dead row with id 999999; the other ids were requeued") {
		t.Errorf("requeue of a dead id and an unknown one: %s", r)
	}
	waitArrived(t, rc, 2)
	if got := rc.answeredByN(); got[2] != 1 {
		t.Errorf("arrivals by n = %v, want the requeued row 2 once", got)
	}
	r = mustWebhookd(t, nil, "", "outbox", "requeue", "--db", db, "--all")
	if !strings.Contains(r.stdout, "requeued 1 row") {
		t.Errorf("requeue --all: %s", r)
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := countOf(t, crm, `SELECT COUNT(*) FROM webhook_outbox_dead`)
		m := countOf(t, crm, `SELECT COUNT(*) FROM webhook_outbox`)
		return n == 1 && m == 0, fmt.Sprintf("the unknown type's row dead again, have %d dead and %d waiting", n, m)
	})
	p.stop()
}

// nodePG installs node-postgres (the npm package pg) into a temporary
// folder and returns its node_modules, for NODE_PATH. It needs the npm
// registry (or npm's cache): without it the test is skipped, or fails
// under CI, whose machines reach the registry.
func nodePG(t testing.TB) string {
	t.Helper()
	need(t, "node", "npm")
	dir := t.TempDir()
	cmd := exec.Command("npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--no-save", "pg@8")
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("npm install pg: %v\n%s", err, out)
		}
		t.Skipf("npm install pg failed (no registry and not in npm's cache?): %v\n%s", err, out)
	}
	return filepath.Join(dir, "node_modules")
}

// nodeURL is db as node-postgres takes it: the schema through options,
// since it does not read pgx's search_path parameter.
func nodeURL(t testing.TB, db string) string {
	t.Helper()
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if sp := q.Get("search_path"); sp != "" {
		q.Del("search_path")
		q.Set("options", "-c search_path="+sp)
	}
	q.Del("sslmode") // node-postgres does not use TLS unless asked
	u.RawQuery = q.Encode()
	return u.String()
}

// TestE2EExampleNodeOutbox runs examples/node/outbox.js against webhookd
// serve --outbox: its committed transaction arrives as one
// conversation.created; its rolled-back one never does.
func TestE2EExampleNodeOutbox(t *testing.T) {
	t.Parallel()
	modules := nodePG(t)
	db := storetest.PostgresURL(t)
	mustWebhookd(t, adminEnv, "", "migrate", "up", "--db", db)
	mustWebhookd(t, nil, "", "tenant", "create", "--id", "acme", "--db", db)
	key := strings.TrimSpace(mustWebhookd(t, nil, "", "apikey", "create", "--service", "--name", "crm", "--db", db).stdout)
	p := startServe(t, db, adminEnv, "--outbox")
	rc := newReceiver(t)
	svc := api{t: t, base: p.URL, token: key}
	if r := svc.client().Do(t, http.MethodPost, "/api/v1/webhooks", fmt.Sprintf(`{"name":"crm","url":%q,"events":["conversation.*"]}`, rc.URL), "Webhookd-Tenant", "acme"); r.Status != http.StatusCreated {
		t.Fatalf("create acme's webhook: %d %s", r.Status, r.Body)
	}
	run := func(customer string, rollback bool) string {
		t.Helper()
		cmd := exec.Command("node", filepath.Join(moduleRoot(t), "examples", "node", "outbox.js"), customer)
		env := append(cleanEnv(), "NODE_PATH="+modules, "DATABASE_URL="+nodeURL(t, db), "TENANT=acme")
		if rollback {
			env = append(env, "ROLLBACK=1")
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node outbox.js: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run("+44 7700 900999", true); !strings.Contains(out, `"committed":false`) {
		t.Errorf("rolled-back run printed %s", out)
	}
	out := run("+44 7700 900123", false)
	if !strings.Contains(out, `"committed":true`) {
		t.Errorf("committed run printed %s", out)
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		return len(rc.all()) >= 1, "the committed conversation's delivery"
	})
	crm := crmConn(t, db)
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := countOf(t, crm, `SELECT COUNT(*) FROM webhook_outbox`)
		return n == 0, fmt.Sprintf("the outbox to empty, %d left", n)
	})
	if n := countOf(t, crm, `SELECT COUNT(*) FROM events`); n != 1 {
		t.Errorf("%d events, want 1: the rolled-back transaction must publish none", n)
	}
	got := rc.all()
	if len(got) != 1 || !strings.Contains(string(got[0].body), `"customer":"+44 7700 900123"`) || got[0].header.Get("X-Webhook-Event") != "conversation.created" {
		t.Errorf("arrivals = %d, first %s %s; want the committed conversation once", len(got), got[0].header.Get("X-Webhook-Event"), got[0].body)
	}
	p.stop()
}

// oneLineReason is a dead row's reason as outbox dead prints it: newlines
// and tabs escaped, so that each row stays on its line.
func oneLineReason(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}
