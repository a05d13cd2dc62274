package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// dueRow is one due delivery the window read.
type dueRow struct {
	id, webhook, owner string
	active             bool
	rate               int
}

// scanDueRow reads a row of dueWindowQuery.
func scanDueRow(sc rowScanner) (dueRow, error) {
	var r dueRow
	var rl sql.NullInt64
	err := sc.Scan(&r.id, &r.webhook, &r.owner, &r.active, &rl)
	r.rate = int(rl.Int64)
	return r, err
}

// pickDue chooses up to p.Limit due deliveries of active webhooks to lease,
// oldest due first, leaving out p.SkipWebhooks and any past a webhook's
// cap, its pacing budget or its owner's cap. It reads a bounded window of
// the oldest due deliveries first, which usually holds enough. When that
// window is full of deliveries it cannot take, those of a webhook or owner
// at its cap or of a webhook paused with a backlog of thousands, reading on
// would cost a pass over that whole backlog on every lease; it asks each
// active webhook with room and due deliveries for its own oldest instead,
// through the (webhook_id, status, next_attempt_at) index. It also returns
// the owners whose due deliveries it left for their owner's cap.
func (s *Store) pickDue(ctx context.Context, tx *txn, p LeaseParams, now time.Time) ([]any, []string, error) {
	k := newPicker(s, tx, p, now)
	if tx.pipe != nil {
		// PostgreSQL's pipelined lease: the settings and the window in
		// one round trip.
		if err := k.readWindowPipelined(ctx); err != nil {
			return nil, nil, err
		}
	} else {
		if err := s.d.walkIndexesInOrder(ctx, tx); err != nil {
			return nil, nil, err
		}
		if err := k.readWindow(ctx); err != nil {
			return nil, nil, err
		}
	}
	if err := k.takeFromWindow(ctx); err != nil {
		return nil, nil, err
	}
	if len(k.ids) == p.Limit || len(k.due) < k.window {
		// Enough, or the window held every due delivery.
		return k.ids, k.capped(), nil
	}
	if err := k.takeByWebhook(ctx); err != nil {
		return nil, nil, err
	}
	return k.ids, k.capped(), nil
}

// picker is one lease's choice in the making: what it read, what it took
// by webhook and owner, and which owners it left at their cap.
type picker struct {
	s      *Store
	tx     *txn
	p      LeaseParams
	now    time.Time
	window int // how many due deliveries readWindow reads
	free   int // workers free for this lease
	skip   map[string]bool
	due    []dueRow // the window, oldest due first

	taken      map[string]int // by webhook
	ownerTaken map[string]int // by owner
	rate       map[string]int // rate limit by webhook, as read
	picked     map[string]bool
	ids        []any
	atCap      map[string]bool // owners left out for their cap
	// waiting holds the owners with due deliveries that their webhooks'
	// caps would let go now (othersWaiting); nil until first asked.
	waiting map[string]bool
}

func newPicker(s *Store, tx *txn, p LeaseParams, now time.Time) *picker {
	k := &picker{s: s, tx: tx, p: p, now: now, window: dueWindow(p.Limit), free: p.FreeWorkers,
		skip: make(map[string]bool, len(p.SkipWebhooks)), taken: map[string]int{}, ownerTaken: map[string]int{},
		rate: map[string]int{}, picked: map[string]bool{}, atCap: map[string]bool{}}
	if k.free <= 0 {
		k.free = p.Limit
	}
	for _, id := range p.SkipWebhooks {
		k.skip[id] = true
	}
	return k
}

// readWindow reads the oldest due deliveries, up to the window, whole
// before taking any: deciding an owner's room may need another query,
// which cannot run beside open rows in a transaction.
func (k *picker) readWindow(ctx context.Context) error {
	rows, err := k.tx.QueryContext(ctx, k.s.dueWindowQuery(), k.s.d.t(k.now), k.window)
	if err != nil {
		return err
	}
	if k.due, err = collect(rows, scanDueRow); err != nil {
		return err
	}
	for _, r := range k.due {
		k.rate[r.webhook] = r.rate
	}
	return nil
}

// readWindowPipelined is walkIndexesInOrder and readWindow sent in one
// batch on PostgreSQL.
func (k *picker) readWindowPipelined(ctx context.Context) error {
	var b pgx.Batch
	queueLeaseSettings(&b)
	b.Queue(k.s.dueWindowQuery(), k.now.UTC(), k.window).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var r dueRow
			var rate pgtype.Int4
			if err := rows.Scan(&r.id, &r.webhook, &r.owner, &r.active, &rate); err != nil {
				return err
			}
			r.rate = int(rate.Int32)
			k.due = append(k.due, r)
		}
		return rows.Err()
	})
	if err := k.tx.send(ctx, &b); err != nil {
		return fmt.Errorf("read due deliveries: %w", err)
	}
	for _, r := range k.due {
		k.rate[r.webhook] = r.rate
	}
	return nil
}

// takeFromWindow takes what it may of the window, in due order.
func (k *picker) takeFromWindow(ctx context.Context) error {
	for _, r := range k.due {
		if !r.active || k.skip[r.webhook] {
			continue
		}
		n, err := k.room(ctx, r.webhook, r.owner)
		if err != nil {
			return err
		}
		if n > 0 {
			k.take(r.id, r.webhook, r.owner)
		}
	}
	return nil
}

// takeByWebhook asks the active webhooks with room and due deliveries for
// their oldest, earliest due webhook first. An owner the window left at
// its cap stays there for the rest of this lease (its share, the spare
// workers and whether others wait only shrink), so its webhooks are not
// read.
func (k *picker) takeByWebhook(ctx context.Context) error {
	ws, err := k.byDue(ctx, k.capped()...)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if w.due.After(k.now) {
			return nil
		}
		if k.skip[w.id] {
			continue
		}
		want, err := k.room(ctx, w.id, w.owner)
		if err != nil {
			return err
		}
		if want <= 0 {
			continue
		}
		got, err := k.oldestOf(ctx, w.id, want)
		if err != nil {
			return err
		}
		for _, id := range got {
			k.take(id, w.id, w.owner)
		}
		if len(k.ids) == k.p.Limit {
			return nil
		}
	}
	return nil
}

// oldestOf reads up to want of webhook's due deliveries, oldest first,
// past the ones the window already took.
func (k *picker) oldestOf(ctx context.Context, webhook string, want int) ([]string, error) {
	rows, err := k.tx.QueryContext(ctx, `SELECT d.id FROM deliveries d
			WHERE d.webhook_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
			ORDER BY d.next_attempt_at LIMIT $3`+k.s.d.skipLocked(), webhook, k.s.d.t(k.now), want+k.taken[webhook])
	if err != nil {
		return nil, err
	}
	got, err := collect(rows, scanString)
	if err != nil {
		return nil, err
	}
	got = slices.DeleteFunc(got, func(id string) bool { return k.picked[id] })
	return got[:min(len(got), want)], nil
}

// byDue lists the active webhooks with a pending delivery, of owners
// other than except: an owner's own webhooks are never read to decide
// whether others wait for it, nor once it can take no more.
func (k *picker) byDue(ctx context.Context, except ...string) ([]webhookDue, error) {
	ws, err := k.s.activeWebhooksByDue(ctx, k.tx, except...)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		k.rate[w.id] = w.rate
	}
	return ws, nil
}

// hookRoom is how many more of webhook's deliveries its own caps let
// this lease take: its cap in flight and what its rate allows now.
func (k *picker) hookRoom(webhook string) int {
	if k.skip[webhook] {
		return 0
	}
	left := k.p.Limit
	if k.p.PerWebhook > 0 {
		left = k.p.PerWebhook - k.p.InFlight[webhook] - k.taken[webhook]
	}
	if r := k.rate[webhook]; r > 0 && k.p.PaceHorizon > 0 {
		left = min(left, paceBudget(r, k.p.PaceHorizon)-k.taken[webhook])
	}
	return left
}

// othersWaiting reports whether an owner other than owner has due
// deliveries that their webhooks' caps would let go now: the window knows
// them all when it held every due delivery, and the per-webhook probe
// otherwise. A webhook waiting out its rate limit, or at its cap, does not
// make its owner wait for workers, so it does not hold others to their
// share. Read once, and only when an owner reaches its share. The probe
// leaves out the owner asking: it asks with a due delivery its webhook has
// room for, so it is waiting, and its own webhooks (all 10,000 of them
// after a large fan-out) need not be probed on every lease to learn that.
func (k *picker) othersWaiting(ctx context.Context, owner string) (bool, error) {
	if k.waiting == nil {
		k.waiting = map[string]bool{}
		if len(k.due) < k.window {
			for _, r := range k.due {
				if r.active && k.hookRoom(r.webhook) > 0 {
					k.waiting[r.owner] = true
				}
			}
		} else {
			k.waiting[owner] = true
			ws, err := k.byDue(ctx, owner)
			if err != nil {
				return false, err
			}
			for _, w := range ws {
				if !w.due.After(k.now) && k.hookRoom(w.id) > 0 {
					k.waiting[w.owner] = true
				}
			}
		}
	}
	return len(k.waiting) > 1 || len(k.waiting) == 1 && !k.waiting[owner], nil
}

// room is how many more of webhook's deliveries this lease may take.
func (k *picker) room(ctx context.Context, webhook, owner string) (int, error) {
	left := min(k.p.Limit-len(k.ids), k.hookRoom(webhook))
	if left <= 0 || k.p.PerOwner <= 0 {
		return left, nil
	}
	if share := k.p.PerOwner - k.p.OwnerInFlight[owner] - k.ownerTaken[owner]; share > 0 {
		return min(left, share), nil
	}
	// Past its share only while no other owner has due deliveries to
	// send, and never into the last PerOwner free workers, which stay
	// free for the next owner whose deliveries fall due.
	spare := k.free - k.p.PerOwner - len(k.ids)
	if spare <= 0 {
		k.atCap[owner] = true
		return 0, nil
	}
	others, err := k.othersWaiting(ctx, owner)
	if err != nil {
		return 0, err
	}
	if others {
		k.atCap[owner] = true
		return 0, nil
	}
	return min(left, spare), nil
}

func (k *picker) take(id, webhook, owner string) {
	k.taken[webhook]++
	k.ownerTaken[owner]++
	k.picked[id] = true
	k.ids = append(k.ids, id)
}

// capped lists the owners left out for their cap.
func (k *picker) capped() []string {
	out := make([]string, 0, len(k.atCap))
	for o := range k.atCap {
		out = append(out, o)
	}
	return out
}
