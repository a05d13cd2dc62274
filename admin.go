package main

// The administrative commands: migrate, apikey and status. The user
// command, which has more actions, is in usercmd.go.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
)

// migrateActions are the migrate subcommands, each with what it does.
var migrateActions = map[string]func(ctx context.Context, st *store.Store, stdout io.Writer) error{
	"up":     migrateUp,
	"down":   migrateDown,
	"status": migrateStatus,
}

// runMigrate is webhookd migrate: parse the flags, open the database
// (creating it only for up), and run the action.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "Usage: webhookd migrate up|down|status [flags]\n\nup applies every pending migration, down rolls back the latest, status lists them.\n"+
		"down drops what the latest migration added, data included: at a terminal it asks first, elsewhere it needs --yes.")
	db := dbFlag(fs)
	yes := fs.Bool("yes", false, "down only: roll back without asking (required when stdin is not a terminal)")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parseFlags(fs, args, getenv, stdout); err != nil {
			return err
		}
		return errors.New("migrate: say up, down or status (run 'webhookd help migrate')")
	}
	action := args[0]
	if err := parseFlags(fs, args[1:], getenv, stdout); err != nil {
		return err
	}
	do, ok := migrateActions[action]
	if !ok {
		return fmt.Errorf("migrate: unknown action %q: say up, down or status", action)
	}
	var opts []store.Option
	if action != "up" {
		// Only 'migrate up' (and serve) may create a database.
		opts = append(opts, store.MustExist())
	}
	if action == "status" {
		// status only reads goose's table, so it runs beside serve, as
		// 'webhookd status' does; up and down keep the process lock.
		opts = append(opts, store.ForAdmin())
	}
	st, err := openStore(ctx, *db, stderr, opts...)
	if err != nil {
		return err
	}
	defer st.Close()
	if action == "down" && !*yes {
		if err := confirmDown(ctx, st, stdin, stdTerminal); err != nil {
			return err
		}
	}
	return do(ctx, st, stdout)
}

// confirmDown asks, at a terminal, before migrate down drops the latest
// migration's tables and columns with their data; elsewhere (a script, a
// pipe) it refuses, since nobody is there to answer, and names --yes.
func confirmDown(ctx context.Context, st *store.Store, stdin io.Reader, tty terminal) error {
	all, err := st.Migrations(ctx)
	if err != nil {
		return err
	}
	what := "the latest migration"
	for _, m := range slices.Backward(all) {
		if m.Applied {
			what = fmt.Sprintf("migration %05d (%s)", m.Version, m.Name)
			break
		}
	}
	f, ok := stdin.(interface{ Fd() uintptr })
	if !ok || !tty.isTerminal(int(f.Fd())) {
		return fmt.Errorf("migrate down would roll back %s of %s, dropping what it added with its data; give --yes to do it (stdin is not a terminal to ask at)", what, st.Label())
	}
	fmt.Fprintf(tty.prompt, "migrate down rolls back %s of %s, dropping what it added with its data.\nType yes to go on: ", what, st.Label())
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("migrate down: read the answer: %w", err)
	}
	if answer := strings.ToLower(strings.TrimSpace(line)); answer != "yes" && answer != "y" {
		return errors.New("migrate down: not confirmed; nothing was rolled back")
	}
	return nil
}

// migrateUp applies every pending migration.
func migrateUp(ctx context.Context, st *store.Store, stdout io.Writer) error {
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "no pending migrations")
	}
	for _, v := range applied {
		fmt.Fprintf(stdout, "applied %05d\n", v)
	}
	return nil
}

// migrateDown rolls back the latest migration.
func migrateDown(ctx context.Context, st *store.Store, stdout io.Writer) error {
	v, err := st.MigrateDown(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rolled back %05d\n", v)
	return nil
}

// migrateStatus lists every migration, applied or pending.
func migrateStatus(ctx context.Context, st *store.Store, stdout io.Writer) error {
	all, err := st.Migrations(ctx)
	if err != nil {
		return err
	}
	for _, m := range all {
		state := "pending"
		if m.Applied {
			state = "applied " + m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%05d  %-30s %s\n", m.Version, m.Name, state)
	}
	return nil
}

// openAdminStore opens db for the user and apikey commands: beside a
// running serve (store.ForAdmin takes no process lock), never creating a
// database, and with pending migrations applied only to a database that
// webhookd has migrated before: a mistyped --db must fail, not set up a new
// database the user then cannot log in to.
func openAdminStore(ctx context.Context, db string, stderr io.Writer) (*store.Store, error) {
	st, err := openStore(ctx, db, stderr, store.ForAdmin(), store.MustExist())
	if err != nil {
		return nil, err
	}
	if err := refuseUnmigrated(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// refuseUnmigrated fails on a database no migration was ever applied to:
// most often a mistyped search_path schema, or an empty file someone
// created, for which "run migrate up" would be the wrong advice.
func refuseUnmigrated(ctx context.Context, st *store.Store) error {
	all, err := st.Migrations(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(all, func(m store.MigrationState) bool { return m.Applied }) {
		return fmt.Errorf("%s is not a webhookd database: no migration has been applied to it; check --db or WEBHOOKD_DB, or set it up with 'webhookd migrate up' or by starting serve", st.Label())
	}
	return nil
}

// openStore opens db for an administrative command and says on stderr,
// so that stdout stays parseable, which database it is. A missing SQLite
// file (with store.MustExist) fails naming the path looked at.
func openStore(ctx context.Context, db string, stderr io.Writer, opts ...store.Option) (*store.Store, error) {
	st, err := store.Open(ctx, db, opts...)
	if errors.Is(err, store.ErrNoDatabase) {
		return nil, fmt.Errorf("%w; give the database serve uses with --db or WEBHOOKD_DB (only serve and 'webhookd migrate up' create one)", err)
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "database: %s\n", st.Label())
	return st, nil
}

// runAPIKey is webhookd apikey create: make an API key for a user's
// tenant, or a service key for every tenant, and print it, the only time
// it is shown.
func runAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if isHelp(args) {
		writeActions(stdout, []string{
			"webhookd apikey create (--email E | --tenant T | --service) --name N",
			"webhookd apikey list [--tenant T | --service]",
			"webhookd apikey revoke --id ID",
		}, []string{
			"create an API key and print it, the only time it is shown",
			"list the keys (every one, tenant T's or the service keys): id, prefix, name, whom it acts for, when created and last used; never the key itself",
			"revoke a key, a service key too: requests with it get 401 at once",
		})
		fmt.Fprintln(stdout)
		args = []string{"create", "-h"}
	}
	if len(args) > 0 && args[0] == "list" {
		return apiKeyList(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "revoke" {
		return apiKeyRevoke(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "create" {
		return errors.New("apikey: say create, list or revoke (run 'webhookd help apikey')")
	}
	fs := newFlagSet("apikey create", "Usage: webhookd apikey create (--email E | --tenant T | --service) --name N [flags]\n\n"+
		"Creates an API key and prints it once. A key acts for one tenant: the user's (--email) or the one\n"+
		"named (--tenant, which must exist). A service key (--service) acts for any tenant, naming it on each\n"+
		"request (\"tenant\" in the events routes' bodies, the Webhookd-Tenant header elsewhere), and alone\n"+
		"may manage tenants; only this command makes one, since whoever holds the database holds the\n"+
		"deployment.")
	db := dbFlag(fs)
	email := fs.String("email", "", "a key for this user's tenant")
	tenant := fs.String("tenant", "", "a key for this tenant")
	service := fs.Bool("service", false, "a service key, acting for any tenant")
	name := fs.String("name", "", "a name for the key, such as the CRM's (required)")
	if err := parseFlags(fs, args[1:], getenv, stdout); err != nil {
		return err
	}
	given := 0
	for _, set := range []bool{*email != "", *tenant != "", *service} {
		if set {
			given++
		}
	}
	switch {
	case strings.TrimSpace(*name) == "":
		return errors.New("apikey create: --name is required")
	case given != 1:
		return errors.New("apikey create: give exactly one of --email, --tenant and --service")
	case *tenant != "" && !store.ValidTenantID(*tenant):
		return fmt.Errorf("apikey create: --tenant %q must match %s", *tenant, store.TenantIDPattern)
	}
	st, err := openAdminStore(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	p := store.NewAPIKey{TenantID: *tenant, Service: *service, Name: strings.TrimSpace(*name)}
	if *email != "" {
		u, err := st.UserByEmail(ctx, *email)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("apikey create: no user with email %s", *email)
		} else if err != nil {
			return err
		}
		p.TenantID, p.CreatedBy = u.TenantID, u.ID
	}
	key, hash, prefix, err := auth.NewAPIKey()
	if err != nil {
		return err
	}
	p.KeyHash, p.Prefix = hash, prefix
	if _, err := st.CreateAPIKey(ctx, p); err != nil {
		if errors.Is(err, store.ErrTenantNotFound) {
			return fmt.Errorf("apikey create: no tenant %s (create it with 'webhookd tenant create --id %s')", p.TenantID, p.TenantID)
		}
		return err
	}
	fmt.Fprintln(stdout, key)
	// stdout stays the key alone, for scripts; the warning goes beside it.
	fmt.Fprintln(stderr, "This key is shown once: webhookd keeps only its hash. Store it now (revoke it with 'webhookd apikey revoke --id ID', ids from 'webhookd apikey list').")
	return nil
}

// apiKeyList is webhookd apikey list: the keys with whom they act for and
// when they were last used, so an operator can find one to revoke.
func apiKeyList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("apikey list", "Usage: webhookd apikey list [--tenant T | --service] [flags]\n\n"+
		"Lists API keys: id, prefix, name, whom it acts for, when created and last used. The key itself is never stored.")
	db := dbFlag(fs)
	tenant := fs.String("tenant", "", "only this tenant's keys")
	service := fs.Bool("service", false, "only the service keys")
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if *tenant != "" && *service {
		return errors.New("apikey list: give --tenant or --service, not both")
	}
	st, err := openAdminStore(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	var keys []store.APIKey
	switch {
	case *tenant != "":
		keys, err = st.ListAPIKeys(ctx, *tenant)
	case *service:
		keys, err = st.ListAPIKeys(ctx, "")
	default:
		keys, err = st.ListAllAPIKeys(ctx)
	}
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintln(stdout, "no API keys")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tACTS FOR\tCREATED\tLAST USED")
	for _, k := range keys {
		actsFor, used := "tenant "+k.TenantID, "never"
		if k.Service {
			actsFor = "any tenant (service)"
		}
		if k.LastUsedAt != nil {
			used = k.LastUsedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, actsFor, k.CreatedAt.UTC().Format(time.RFC3339), used)
	}
	return tw.Flush()
}

// apiKeyRevoke is webhookd apikey revoke: the one way to end a service
// key, and an operator's way to end any leaked key.
func apiKeyRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("apikey revoke", "Usage: webhookd apikey revoke --id ID [flags]\n\n"+
		"Revokes the API key with this id (see 'webhookd apikey list'), a service key too. Requests with it get 401 at once.")
	db := dbFlag(fs)
	id := fs.String("id", "", "the key's id (required)")
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if strings.TrimSpace(*id) == "" {
		return errors.New("apikey revoke: --id is required (ids from 'webhookd apikey list')")
	}
	st, err := openAdminStore(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	k, err := st.RevokeAPIKey(ctx, strings.TrimSpace(*id))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("apikey revoke: no API key with id %s (see 'webhookd apikey list')", *id)
	}
	if err != nil {
		return err
	}
	actsFor := "tenant " + k.TenantID
	if k.Service {
		actsFor = "any tenant (a service key)"
	}
	fmt.Fprintf(stdout, "revoked API key %s (%s, %s), which acted for %s\n", k.ID, k.Prefix, k.Name, actsFor)
	return nil
}

// runStatus is webhookd status: the queue and every webhook with its last
// hour, read beside a running serve.
func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", "Usage: webhookd status [flags]\n\nPrints the queue and every webhook with its last hour, read from the database (safe beside a running serve).")
	db := dbFlag(fs)
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	st, err := openStore(ctx, *db, stderr, store.ForAdmin(), store.MustExist())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := refuseUnmigrated(ctx, st); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if pending, err := st.PendingMigrations(ctx); err != nil {
		return err
	} else if len(pending) > 0 {
		return fmt.Errorf("status: the database has pending migrations %v; run 'webhookd migrate up' or start serve", pending)
	}
	q, err := st.Queue(ctx)
	if err != nil {
		return err
	}
	counts, err := st.CountWebhooks(ctx)
	if err != nil {
		return err
	}
	hooks, err := st.Summaries(ctx)
	if err != nil {
		return err
	}
	oldest := "none"
	if q.OldestDue != nil {
		oldest = time.Since(*q.OldestDue).Round(time.Second).String() + " ago"
	}
	fmt.Fprintf(stdout, "webhookd %s on %s (%s)\n", version, st.Label(), st.Kind())
	fmt.Fprintf(stdout, "queue:    %d due (oldest due %s), %d scheduled for retry, %d in flight\n", q.Due, oldest, q.Scheduled, q.InFlight)
	fmt.Fprintf(stdout, "webhooks: %d active, %d paused, %d disabled by webhookd\n", counts.Active, counts.Paused, counts.Disabled)
	if waiting, dead, ok, err := st.CountOutbox(ctx); err != nil {
		return err
	} else if ok {
		fmt.Fprintf(stdout, "outbox:   %d rows waiting, %d dead (GET /api/v1/outbox/dead; webhookd outbox requeue)\n", waiting, dead)
	}
	if wal, ok := st.WALBytes(); ok {
		fmt.Fprintf(stdout, "wal:      %d bytes in %s-wal\n", wal, st.Label())
	}
	fmt.Fprintln(stdout)
	if len(hooks) == 0 {
		fmt.Fprintln(stdout, "no webhooks yet")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tWEBHOOK\tNAME\tSTATE\tPENDING\tOK 1h\tFAILED 1h\tFAILING\tURL")
	for _, h := range hooks {
		state := "active"
		if !h.IsActive {
			state = "paused"
			if h.DisabledReason != "" {
				state = "disabled"
			}
		}
		// A user's own tenant is named by a UUID; its name (the user's
		// email) says whose it is.
		tenant := h.TenantID
		if h.TenantName != "" && h.TenantName != h.TenantID {
			tenant = clip(h.TenantName, 32) + " (" + h.TenantID + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", tenant, h.ID, clip(h.Name, 24), state,
			h.Pending, h.SuccessLastHour, h.FailedLastHour, h.ConsecutiveFailures, clip(h.URL, 60))
	}
	return tw.Flush()
}

// clip shortens s to n runes for a table cell.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
