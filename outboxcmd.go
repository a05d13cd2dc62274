package main

// webhookd outbox dead and requeue: list the outbox rows that could not
// become events (webhook_outbox_dead) with their reasons, and move them
// back into webhook_outbox, once their cause is fixed, for serve --outbox
// to take again.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/webhookd/webhookd/store"
)

const outboxUsage = "Usage:\n" +
	"  webhookd outbox dead [--db D] [--after ID] [--limit N]\n" +
	"      list the outbox rows that could not become events, oldest first: id, when, tenant,\n" +
	"      event type and why (the same rows as GET /api/v1/outbox/dead, with no server running)\n" +
	"  webhookd outbox requeue [--db D] ID...\n" +
	"      move these dead outbox rows (ids from GET /api/v1/outbox/dead) back into webhook_outbox;\n" +
	"      ids that are not dead are named in an error (exit status 1), the others still go back\n" +
	"  webhookd outbox requeue [--db D] --all\n" +
	"      move every dead outbox row back\n\n" +
	"PostgreSQL only. A row is taken again by serve --outbox under its own id; fix what made it dead\n" +
	"first (a tenant to create, an event type to add with --event-types, --outbox-owner to set), or it\n" +
	"comes back."

// runOutbox is webhookd outbox dead and webhookd outbox requeue.
func runOutbox(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if isHelp(args) {
		fmt.Fprintln(stdout, outboxUsage)
		return flag.ErrHelp
	}
	if len(args) > 0 && args[0] == "dead" {
		return runOutboxDead(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "requeue" {
		return errors.New("outbox: say dead or requeue (run 'webhookd help outbox')")
	}
	fs := newFlagSet("outbox requeue", outboxUsage)
	db := dbFlag(fs)
	all := fs.Bool("all", false, "requeue every dead row")
	if err := fs.parse(args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.usage(stdout)
			return err
		}
		return fmt.Errorf("outbox requeue: %w (run 'webhookd help outbox')", err)
	}
	var ids []int64
	for _, a := range fs.Args() {
		for _, part := range strings.Split(a, ",") {
			if part == "" {
				continue
			}
			id, err := strconv.ParseInt(part, 10, 64)
			if err != nil || id < 1 {
				return fmt.Errorf("outbox requeue: %q is not a row id: want the ids GET /api/v1/outbox/dead lists, such as 42", part)
			}
			ids = append(ids, id)
		}
	}
	if *all == (len(ids) > 0) {
		return errors.New("outbox requeue: give the ids of the rows to requeue, or --all (not both)")
	}
	st, err := openAdminStore(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	moved, err := st.RequeueOutboxDead(ctx, ids, *all)
	if errors.Is(err, store.ErrOutboxUnsupported) {
		return fmt.Errorf("outbox requeue: the outbox is PostgreSQL's, and %s is an SQLite database: give the PostgreSQL database serve --outbox uses with --db or WEBHOOKD_DB", st.Label())
	}
	if err != nil {
		return err
	}
	// Name the rows, so that a partial requeue (some ids not dead) says
	// which went back as well as which were not found.
	done := make([]string, len(moved))
	for i, id := range moved {
		done[i] = strconv.FormatInt(id, 10)
	}
	if len(done) == 0 {
		fmt.Fprintln(stdout, "requeued no rows")
	} else {
		fmt.Fprintf(stdout, "requeued %d row(s): %s\n", len(moved), strings.Join(done, ", "))
	}
	if !*all && len(moved) < len(ids) {
		found := map[int64]bool{}
		for _, id := range moved {
			found[id] = true
		}
		var missing []string
		for _, id := range ids {
			if !found[id] {
				missing = append(missing, strconv.FormatInt(id, 10))
			}
		}
		if len(moved) > 0 {
			return fmt.Errorf("outbox requeue: no dead row with id %s; the other ids were requeued", strings.Join(missing, ", "))
		}
		return fmt.Errorf("outbox requeue: no dead row with id %s; nothing was requeued", strings.Join(missing, ", "))
	}
	return nil
}

// maxOutboxDeadLimit is the most rows outbox dead lists at once, as
// GET /api/v1/outbox/dead's limit.
const maxOutboxDeadLimit = 1000

// runOutboxDead is webhookd outbox dead: one page of webhook_outbox_dead
// as a table, and the command for the next page when there is one, so
// that an operator can see why rows were set aside without a service key
// or a running server.
func runOutboxDead(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("outbox dead", outboxUsage)
	db := dbFlag(fs)
	after := fs.Int64("after", 0, "list the rows after this id (the next page's, as the last line says)")
	limit := fs.Int("limit", 50, fmt.Sprintf("the most rows to list (1–%d)", maxOutboxDeadLimit))
	if err := fs.parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.usage(stdout)
			return err
		}
		return fmt.Errorf("outbox dead: %w (run 'webhookd help outbox')", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("outbox dead: unexpected argument %q (run 'webhookd help outbox')", fs.Arg(0))
	}
	if *limit < 1 || *limit > maxOutboxDeadLimit {
		return fmt.Errorf("outbox dead: --limit must be between 1 and %d, not %d", maxOutboxDeadLimit, *limit)
	}
	if *after < 0 {
		return fmt.Errorf("outbox dead: --after must be a row id (0 or more), not %d", *after)
	}
	st, err := openAdminStore(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, next, err := st.ListOutboxDead(ctx, *after, *limit)
	if errors.Is(err, store.ErrOutboxUnsupported) {
		return fmt.Errorf("outbox dead: the outbox is PostgreSQL's, and %s is an SQLite database: give the PostgreSQL database serve --outbox uses with --db or WEBHOOKD_DB", st.Label())
	}
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		if *after > 0 {
			fmt.Fprintf(stdout, "no dead outbox rows after id %d\n", *after)
		} else {
			fmt.Fprintln(stdout, "no dead outbox rows")
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDEAD AT\tTENANT\tEVENT\tREASON")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.ID, r.DeadAt.UTC().Format(time.RFC3339), orNull(r.Tenant), orNull(r.Event), oneLine(r.Reason))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("outbox dead: %w", err)
	}
	if next > 0 {
		fmt.Fprintf(stdout, "more: webhookd outbox dead --after %d\n", next)
	}
	return nil
}

// orNull shows a NULL column as the CRM wrote it.
func orNull(s *string) string {
	if s == nil {
		return "NULL"
	}
	return oneLine(*s)
}

// oneLine keeps a value written by the CRM (or an error quoting it) on
// its row of the table: a newline or tab in it would break the columns.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}
