package e2e

import (
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store/storetest"
)

// adminCommands are the commands that use a database but must not create
// one (issue 12 item 12).
var adminCommands = [][]string{
	{"user", "create", "--email", "typo@example.com", "--password", "a long enough password"},
	{"user", "passwd", "--email", "typo@example.com", "--password", "a long enough password"},
	{"user", "disable", "--email", "typo@example.com"},
	{"apikey", "create", "--email", "typo@example.com", "--name", "crm"},
	{"status"},
	{"migrate", "status"},
	{"migrate", "down"},
}

// TestE2EAdminCommandsNeverCreateSQLite runs every admin command in a folder
// without a database, with the default --db, WEBHOOKD_DB and --db: each
// fails naming the absolute path it looked at, and leaves the folder empty.
// Then migrate up creates the database, private to its owner (issue 12
// item 11), and the commands say on stderr which database they used.
func TestE2EAdminCommandsNeverCreateSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := filepath.Join(dir, "webhookd.db")
	typo := filepath.Join(dir, "webhokd.db")
	for _, cmd := range adminCommands {
		for _, how := range []struct {
			env  []string
			args []string
			path string
		}{
			{nil, nil, want},
			{[]string{"WEBHOOKD_DB=" + typo}, nil, typo},
			{nil, []string{"--db", typo}, typo},
		} {
			r := webhookdIn(t, dir, how.env, append(append([]string{}, cmd...), how.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, how.path) || !strings.Contains(r.stderr, "--db") || !strings.Contains(r.stderr, "WEBHOOKD_DB") {
				t.Errorf("%s\nwant a non-zero exit naming %s and pointing at --db and WEBHOOKD_DB", r, how.path)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Fatalf("%s\nleft %s behind in the folder, want nothing created", r, entries[0].Name())
			}
		}
	}

	up := webhookdIn(t, dir, nil, "migrate", "up")
	if up.code != 0 || !strings.Contains(up.stderr, "database: "+want+"\n") {
		t.Fatalf("%s\nwant migrate up to create the database and name it on stderr", up)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(want)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("migrate up created %s with mode %v, want no access for group and others", want, perm)
		}
	}
	created := webhookdIn(t, dir, nil, adminCommands[0]...)
	if created.code != 0 || created.stdout != "created user typo@example.com\n" || !strings.Contains(created.stderr, "database: "+want+"\n") {
		t.Errorf("%s\nwant the user created, stdout only saying so, and stderr naming %s", created, want)
	}
	for _, cmd := range [][]string{{"apikey", "create", "--email", "typo@example.com", "--name", "crm"}, {"status"}, {"migrate", "status"}} {
		r := webhookdIn(t, dir, nil, cmd...)
		if r.code != 0 || !strings.Contains(r.stderr, "database: "+want+"\n") || strings.Contains(r.stdout, "database: ") {
			t.Errorf("%s\nwant success, and the database named on stderr only", r)
		}
	}
}

// TestE2EAdminCommandsNeverMigratePostgres runs the admin commands on an
// empty PostgreSQL schema, as a mistyped search_path would select: they
// fail, and the schema stays empty (issue 12 item 12).
func TestE2EAdminCommandsNeverMigratePostgres(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	raw, err := sql.Open("pgx", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tables := func() int {
		var n int
		if err := raw.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n); err != nil {
			t.Fatalf("count tables: %v", err)
		}
		return n
	}
	for _, cmd := range adminCommands {
		r := webhookd(t, nil, "", append(append([]string{}, cmd...), "--db", db)...)
		// migrate status lists every migration pending; the others fail.
		if (r.code == 0) != (cmd[0] == "migrate" && cmd[1] == "status") {
			t.Errorf("%s\nwant a non-zero exit on a database never migrated, except from migrate status", r)
		}
		if n := tables(); n != 0 {
			t.Fatalf("%s\nleft %d tables in the empty schema, want none", r, n)
		}
	}
	r := webhookd(t, nil, "", "user", "create", "--email", "a@example.com", "--password", "a long enough password", "--db", db)
	if !strings.Contains(r.stderr, "not a webhookd database") || !strings.Contains(r.stderr, "migrate up") {
		t.Errorf("%s\nwant the error to say the database is not set up and how to set it up", r)
	}
	// status, too, says the database was never set up (rather than "pending
	// migrations: run migrate up", wrong advice for a mistyped schema).
	r = webhookd(t, nil, "", "status", "--db", db)
	if !strings.Contains(r.stderr, "not a webhookd database") || !strings.Contains(r.stderr, "check --db") {
		t.Errorf("%s\nwant status to say the database is not a webhookd database", r)
	}

	mustWebhookd(t, nil, "", "migrate", "up", "--db", db)
	r = mustWebhookd(t, nil, "", "user", "create", "--email", "a@example.com", "--password", "a long enough password", "--db", db)
	if !strings.Contains(r.stderr, "database: postgres") || strings.Contains(r.stdout, "database: ") {
		t.Errorf("%s\nwant the database named on stderr only", r)
	}
}

// TestE2EServeWarnsOfReadableDatabase starts serve on an SQLite database
// that others may read (issue 12 item 11): it starts, and warns naming the
// file and its mode.
func TestE2EServeWarnsOfReadableDatabase(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	db := filepath.Join(t.TempDir(), "webhookd.db")
	mustWebhookd(t, nil, "", "migrate", "up", "--db", db)
	p := startServe(t, db, adminEnv)
	p.stop()
	if strings.Contains(p.stderr.String(), "readable by other users") {
		t.Errorf("serve warned about a private database:\n%s", p.output())
	}
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	p = startServe(t, db, adminEnv)
	p.stop()
	logged := p.stderr.String()
	if !strings.Contains(logged, "readable by other users") || !strings.Contains(logged, "path="+db) || !strings.Contains(logged, "mode=-rw-r--r--") {
		t.Errorf("serve on a database with mode 0644 logged:\n%s\nwant a warning naming %s and its mode", logged, db)
	}
}
