package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// schemaScript is the hand-run PostgreSQL schema script, relative to this
// package's directory (go test runs tests there).
var schemaScript = filepath.Join("..", "scripts", "create-webhooks-tables.sql")

// TestSchemaScript keeps scripts/create-webhooks-tables.sql identical to
// what migrations/postgres produces. Users who create tables by hand run the
// script instead of `webhookd migrate up`, so any drift would hand them a
// schema the store's statements were not written for, or make serve try to
// migrate over tables that already exist.
func TestSchemaScript(t *testing.T) {
	storetest.SkipWithoutPostgres(t)
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skipf("schema script test skipped: psql is not on PATH (%v); install the PostgreSQL client to run it", err)
	}
	ctx := context.Background()

	migratedURL := storetest.PostgresURL(t)
	storetest.Open(t, migratedURL)

	scriptURL := storetest.PostgresURL(t)
	runSQLScript(t, psql, scriptURL, schemaScript)

	admin, err := sql.Open("pgx", os.Getenv(storetest.PostgresEnv))
	if err != nil {
		t.Fatalf("open %s: %v", storetest.PostgresEnv, err)
	}
	t.Cleanup(func() { admin.Close() })

	migrated := snapshotSchema(t, admin, schemaOf(t, migratedURL))
	scripted := snapshotSchema(t, admin, schemaOf(t, scriptURL))

	// An empty or half-read catalog would compare equal to another one, so
	// make sure both sides really hold webhookd's schema before trusting
	// "no differences".
	for _, side := range []struct {
		name string
		snap schemaSnapshot
	}{{"migrate up", migrated}, {"script", scripted}} {
		if side.snap.tables <= 5 || side.snap.columns <= 30 {
			t.Fatalf("%s schema has %d tables and %d columns; want more than 5 and 30 (is the catalog query broken?)",
				side.name, side.snap.tables, side.snap.columns)
		}
	}

	if diff := diffSnapshots(migrated, scripted); diff != "" {
		t.Errorf("%s does not match migrations/postgres (- only after migrate up, + only from the script):\n%s",
			schemaScript, diff)
	}

	// serve refuses or migrates when migrations are pending; a database
	// built by the script must look fully migrated to goose.
	s, err := store.Open(ctx, scriptURL)
	if err != nil {
		t.Fatalf("open store on script-built schema: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	pending, err := s.PendingMigrations(ctx)
	if err != nil {
		t.Fatalf("pending migrations on script-built schema: %v", err)
	}
	if len(pending) != 0 {
		t.Errorf("pending migrations after the script = %v, want none (add them to goose_db_version in %s)", pending, schemaScript)
	}
}

// runSQLScript runs script with the real psql binary against the schema
// that target's search_path names, the way a user runs it by hand.
func runSQLScript(t testing.TB, psql, target, script string) {
	t.Helper()
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("schema script: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// -X ignores the developer's ~/.psqlrc, which could change how the
	// script runs.
	cmd := exec.CommandContext(ctx, psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", script)
	cmd.Env = append(os.Environ(), libpqEnv(t, target)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql -f %s: %v\n%s", script, err, out)
	}
}

// libpqEnv turns a pgx URL into the PG* variables psql reads. Variables
// rather than the URL itself, because pgx URLs may carry parameters libpq
// rejects (search_path among them); search_path goes through PGOPTIONS so
// the script's unqualified names land in the test's schema.
func libpqEnv(t testing.TB, target string) []string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parse PostgreSQL URL: %v", err)
	}
	q := u.Query()
	var env []string
	set := func(name, value string) {
		if value != "" {
			env = append(env, name+"="+value)
		}
	}
	host := u.Hostname()
	if h := q.Get("host"); h != "" {
		host = h // a socket directory given as ?host= overrides the URL's host
	}
	set("PGHOST", host)
	set("PGPORT", u.Port())
	set("PGDATABASE", strings.TrimPrefix(u.Path, "/"))
	set("PGSSLMODE", q.Get("sslmode"))
	if u.User != nil {
		set("PGUSER", u.User.Username())
		if pw, ok := u.User.Password(); ok {
			set("PGPASSWORD", pw)
		}
	}
	schema := q.Get("search_path")
	if schema == "" {
		t.Fatalf("PostgreSQL URL names no search_path; want one from storetest.PostgresURL")
	}
	set("PGOPTIONS", "-c search_path="+schema)
	return env
}

// schemaOf returns the schema a storetest.PostgresURL URL selects.
func schemaOf(t testing.TB, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parse PostgreSQL URL: %v", err)
	}
	schema := u.Query().Get("search_path")
	if schema == "" {
		t.Fatalf("PostgreSQL URL names no search_path")
	}
	return schema
}

// schemaSnapshot describes one schema as sorted lines per section, with the
// schema's own name replaced so that two schemas compare equal when they
// hold the same objects.
type schemaSnapshot struct {
	sections map[string][]string
	tables   int // ordinary tables, to tell a real schema from an empty one
	columns  int // columns of those tables
}

// The sections of a schemaSnapshot, in the order a diff reports them.
var snapshotSections = []string{"relations", "columns", "constraints", "indexes", "sequences", "triggers", "functions", "types", "goose_db_version"}

// relkinds spells out pg_class.relkind for readable diffs.
var relkinds = map[string]string{
	"r": "table", "i": "index", "S": "sequence", "v": "view", "m": "materialized view",
	"c": "composite type", "f": "foreign table", "p": "partitioned table", "I": "partitioned index",
}

// snapshotSchema reads schema's definition from pg_catalog through db.
func snapshotSchema(t testing.TB, db *sql.DB, schema string) schemaSnapshot {
	t.Helper()
	snap := schemaSnapshot{sections: map[string][]string{}}
	// The schema name is random hex (t_…), so replacing it anywhere cannot
	// touch anything else; it shows up wherever the catalog qualifies a name
	// that is not on the admin connection's search_path.
	norm := func(s string) string { return strings.ReplaceAll(s, schema, "<schema>") }
	add := func(section, line string) {
		snap.sections[section] = append(snap.sections[section], norm(line))
	}

	queryRows(t, db, "relations", `
		SELECT c.relname, c.relkind::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1
		ORDER BY c.relname`, schema, func(rows *sql.Rows) error {
		var name, kind string
		if err := rows.Scan(&name, &kind); err != nil {
			return err
		}
		if kind == "r" {
			snap.tables++
		}
		if k, ok := relkinds[kind]; ok {
			kind = k
		}
		add("relations", name+": "+kind)
		return nil
	})

	// Columns are listed in table order with their position among the live
	// columns (not attnum, which keeps gaps from dropped columns), so that
	// SELECT * reads the same on both sides.
	var lastTable string
	var pos int
	queryRows(t, db, "columns", `
		SELECT c.relname, c.relkind::text, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		       COALESCE(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
		       COALESCE(co.collname, '')
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		LEFT JOIN pg_collation co ON co.oid = a.attcollation AND co.collname <> 'default'
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY c.relname, a.attnum`, schema, func(rows *sql.Rows) error {
		var table, kind, name, typ, def, identity, generated, collation string
		var notNull bool
		if err := rows.Scan(&table, &kind, &name, &typ, &notNull, &def, &identity, &generated, &collation); err != nil {
			return err
		}
		if table != lastTable {
			lastTable, pos = table, 0
		}
		pos++
		if kind == "r" {
			snap.columns++
		}
		line := fmt.Sprintf("%s.%s (#%d): %s", table, name, pos, typ)
		if collation != "" {
			line += " COLLATE " + collation
		}
		if notNull {
			line += " NOT NULL"
		}
		switch {
		case generated == "s":
			line += " GENERATED ALWAYS AS (" + def + ") STORED"
		case def != "":
			line += " DEFAULT " + def
		}
		switch identity {
		case "a":
			line += " GENERATED ALWAYS AS IDENTITY"
		case "d":
			line += " GENERATED BY DEFAULT AS IDENTITY"
		}
		add("columns", line)
		return nil
	})

	queryRows(t, db, "constraints", `
		SELECT COALESCE(c.relname, ''), con.conname, con.contype::text, pg_get_constraintdef(con.oid)
		FROM pg_constraint con
		JOIN pg_namespace n ON n.oid = con.connamespace
		LEFT JOIN pg_class c ON c.oid = con.conrelid
		WHERE n.nspname = $1
		ORDER BY 1, 2`, schema, func(rows *sql.Rows) error {
		var table, name, typ, def string
		if err := rows.Scan(&table, &name, &typ, &def); err != nil {
			return err
		}
		add("constraints", fmt.Sprintf("%s: %s [%s] %s", table, name, typ, def))
		return nil
	})

	queryRows(t, db, "indexes", `
		SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY tablename, indexname`,
		schema, func(rows *sql.Rows) error {
			var def string
			if err := rows.Scan(&def); err != nil {
				return err
			}
			add("indexes", def)
			return nil
		})

	// last_value is compared too: had the script inserted goose's rows with
	// explicit ids, the identity would lag and goose's next insert collide.
	queryRows(t, db, "sequences", `
		SELECT format('%s: %s start %s min %s max %s increment %s cycle %s cache %s last %s',
		              sequencename, data_type::text, start_value, min_value, max_value, increment_by,
		              cycle, cache_size, COALESCE(last_value::text, 'unused'))
		FROM pg_sequences WHERE schemaname = $1 ORDER BY sequencename`,
		schema, func(rows *sql.Rows) error {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			add("sequences", line)
			return nil
		})

	queryRows(t, db, "triggers", `
		SELECT pg_get_triggerdef(tg.oid)
		FROM pg_trigger tg
		JOIN pg_class c ON c.oid = tg.tgrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND NOT tg.tgisinternal
		ORDER BY c.relname, tg.tgname`, schema, func(rows *sql.Rows) error {
		var def string
		if err := rows.Scan(&def); err != nil {
			return err
		}
		add("triggers", def)
		return nil
	})

	queryRows(t, db, "functions", `
		SELECT pg_get_functiondef(p.oid)
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = $1 AND p.prokind IN ('f', 'p')
		ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)`, schema, func(rows *sql.Rows) error {
		var def string
		if err := rows.Scan(&def); err != nil {
			return err
		}
		add("functions", def)
		return nil
	})

	// Enum labels and domain definitions; row types of tables are covered
	// by relations and columns.
	queryRows(t, db, "types", `
		SELECT t.typname, t.typtype::text,
		       CASE t.typtype
		           WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
		                          FROM pg_enum e WHERE e.enumtypid = t.oid)
		           WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
		           ELSE ''
		       END
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'r', 'm')
		ORDER BY t.typname`, schema, func(rows *sql.Rows) error {
		var name, kind, def string
		if err := rows.Scan(&name, &kind, &def); err != nil {
			return err
		}
		add("types", fmt.Sprintf("%s [%s] %s", name, kind, def))
		return nil
	})

	// The rows goose reads to decide what is applied, in the order it wrote
	// them; tstamp differs by nature and is left out.
	queryRows(t, db, "goose_db_version", `
		SELECT version_id, is_applied FROM `+quoteIdent(schema)+`.goose_db_version ORDER BY id`,
		nil, func(rows *sql.Rows) error {
			var version int64
			var applied bool
			if err := rows.Scan(&version, &applied); err != nil {
				return err
			}
			add("goose_db_version", fmt.Sprintf("version_id %d, is_applied %t", version, applied))
			return nil
		})

	return snap
}

// queryRows runs query (with schema as $1 unless schema is nil) and calls
// scan for each row, failing t with what was being read.
func queryRows(t testing.TB, db *sql.DB, what, query string, schema any, scan func(*sql.Rows) error) {
	t.Helper()
	var args []any
	if schema != nil {
		args = append(args, schema)
	}
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("read %s: %v", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatalf("read %s: %v", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", what, err)
	}
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// diffSnapshots lists, section by section, the lines only one side has
// ("-" for want, "+" for got); it returns "" when the snapshots are equal.
func diffSnapshots(want, got schemaSnapshot) string {
	var b strings.Builder
	for _, section := range snapshotSections {
		onlyWant := subtractLines(want.sections[section], got.sections[section])
		onlyGot := subtractLines(got.sections[section], want.sections[section])
		if len(onlyWant) == 0 && len(onlyGot) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n", section)
		for _, l := range onlyWant {
			fmt.Fprintf(&b, "  - %s\n", l)
		}
		for _, l := range onlyGot {
			fmt.Fprintf(&b, "  + %s\n", l)
		}
	}
	return b.String()
}

// subtractLines returns the lines of a not matched by a line of b, counting
// duplicates, in a's order.
func subtractLines(a, b []string) []string {
	left := make(map[string]int, len(b))
	for _, l := range b {
		left[l]++
	}
	var out []string
	for _, l := range a {
		if left[l] > 0 {
			left[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}
