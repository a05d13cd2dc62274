package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func events(userID, typ string, n int) []store.PublishParams {
	batch := make([]store.PublishParams, n)
	for i := range batch {
		batch[i] = store.PublishParams{TenantID: userID, Type: typ, Payload: fmt.Appendf(nil, `{"i":%d}`, i), OccurredAt: time.Now()}
	}
	return batch
}

// TestLargeFanOutLetsOthersPublish publishes 1,000 events to 20 webhooks
// (issue 12, item 4) and, while their 20,000 deliveries are being
// created, another owner's event: it must be accepted before the large
// fan-out has finished, so the large one cannot have held the writer
// throughout. The large fan-out is paused after its first chunk to look;
// before the fix it had no chunks, and one transaction created everything.
func TestLargeFanOutLetsOthersPublish(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		big, small := newUser(t, s, "big@x.io"), newUser(t, s, "small@x.io")
		// 20,000 deliveries: ten chunks. (More only slows the test: SQLite
		// under the race detector inserts a few thousand rows a second.)
		const hooks, n = 20, 1000
		for range hooks {
			newWebhook(t, s, big.ID, "*")
		}
		newWebhook(t, s, big.ID, "user.created") // matches none of the events
		newWebhook(t, s, small.ID, "*")

		fanning, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		s.SetFanOutChunk(0, func() {
			once.Do(func() {
				close(fanning)
				select {
				case <-release:
				case <-time.After(2 * time.Minute):
				}
			})
		})
		g := s.NewGroupCommitter(256)
		defer g.Close()

		type outcome struct {
			res []store.PublishResult
			err error
		}
		bigDone := make(chan outcome, 1)
		go func() {
			res, err := g.PublishEvents(ctx, events(big.ID, "message.new", n))
			bigDone <- outcome{res, err}
		}()
		select {
		case <-fanning:
		case o := <-bigDone:
			close(release)
			t.Fatalf("the large publish returned (%v) without a fan-out transaction of its own: its deliveries went in the events' transaction", o.err)
		case <-time.After(2 * time.Minute):
			t.Fatal("no fan-out transaction within 2 minutes")
		}

		res, err := g.PublishEvents(ctx, events(small.ID, "message.new", 1))
		if err != nil || len(res) != 1 || res[0].Deliveries != 1 {
			close(release)
			t.Fatalf("small publish = %+v, %v; want 1 event with 1 delivery", res, err)
		}
		ev, del, _, pending, err := s.FanOutCounts(ctx, big.ID)
		close(release)
		if err != nil {
			t.Fatal(err)
		}
		if ev != n || del >= hooks*n || pending == 0 {
			t.Fatalf("when the small publish returned, the large one had %d events, %d deliveries and %d pending fan-outs; want %d events and its fan-out (%d deliveries) unfinished",
				ev, del, pending, n, hooks*n)
		}
		if _, del, _, _, err := s.FanOutCounts(ctx, small.ID); err != nil || del != 1 {
			t.Fatalf("small owner's deliveries = %d, %v; want 1", del, err)
		}

		o := <-bigDone
		if o.err != nil || len(o.res) != n {
			t.Fatalf("large publish = %d results, %v; want %d", len(o.res), o.err, n)
		}
		for i, r := range o.res {
			if r.Deliveries != hooks || r.Duplicate {
				t.Fatalf("event %d: %d deliveries (duplicate %v), want %d", i, r.Deliveries, r.Duplicate, hooks)
			}
		}
		ev, del, pairs, pending, err := s.FanOutCounts(ctx, big.ID)
		if err != nil || ev != n || del != hooks*n || pairs != del || pending != 0 {
			t.Fatalf("after the publish: %d events, %d deliveries over %d (event, webhook) pairs, %d pending, %v; want %d, %d, %d, 0",
				ev, del, pairs, pending, err, n, hooks*n, hooks*n)
		}
	})
}

// TestFanOutResumesAfterStop stops a store with a fan-out half done (its
// events committed, some deliveries created, progress recorded part way
// through an event's webhooks) and checks that the reopened store finishes
// it: every event ends with exactly one delivery per webhook it matched when
// accepted, and none for a webhook created after.
func TestFanOutResumesAfterStop(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		ctx := context.Background()
		s1, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s1.Migrate(ctx); err != nil {
			s1.Close()
			t.Fatal(err)
		}
		u := newUser(t, s1, "resume@x.io")
		for range 7 {
			newWebhook(t, s1, u.ID, "*")
		}
		newWebhook(t, s1, u.ID, "user.created")
		// Deliveries: 7, 7, 7 and 8; chunks of 8 put one event's in the
		// events' transaction and leave three pending.
		s1.SetFanOutChunk(8, nil)
		batch := append(events(u.ID, "message.new", 3), events(u.ID, "user.created", 1)...)
		res, err := s1.PublishWithoutFanOut(ctx, batch)
		if err != nil {
			s1.Close()
			t.Fatal(err)
		}
		want := 0
		for i, r := range res {
			want += r.Deliveries
			if exp := map[bool]int{true: 8, false: 7}[i == 3]; r.Deliveries != exp {
				t.Errorf("event %d: %d deliveries, want %d", i, r.Deliveries, exp)
			}
		}
		if n, err := s1.FanOutStep(ctx); err != nil || n != 8 {
			s1.Close()
			t.Fatalf("one fan-out step = %d, %v; want 8 deliveries", n, err)
		}
		_, del, _, pending, err := s1.FanOutCounts(ctx, u.ID)
		if err != nil || del != 7+8 || pending != 2 {
			s1.Close()
			t.Fatalf("before stopping: %d deliveries, %d pending fan-outs, %v; want 15 and 2 (one of them part way)", del, pending, err)
		}
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}

		s2 := storetest.Open(t, db)
		newWebhook(t, s2, u.ID, "*") // created after the events: gets none of them
		n, err := s2.ResumeFanOuts(ctx)
		if err != nil || n != want-15 {
			t.Fatalf("resume = %d deliveries, %v; want %d", n, err, want-15)
		}
		ev, del, pairs, pending, err := s2.FanOutCounts(ctx, u.ID)
		if err != nil || ev != 4 || del != want || pairs != want || pending != 0 {
			t.Fatalf("after resuming: %d events, %d deliveries over %d pairs, %d pending, %v; want 4, %d, %d, 0", ev, del, pairs, pending, err, want, want)
		}
		if n, err := s2.ResumeFanOuts(ctx); err != nil || n != 0 {
			t.Fatalf("second resume = %d, %v; want 0", n, err)
		}
	})
}

// TestWebhookLimitPerOwner creates webhooks concurrently for an owner with
// a limit of 5: exactly 5 are created, whatever the interleaving, and the
// others are refused with the limit named.
func TestWebhookLimitPerOwner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u, other := newUser(t, s, "limit@x.io"), newUser(t, s, "other@x.io")
		const tries = 20
		var wg sync.WaitGroup
		errs := make(chan error, tries)
		for range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.CreateWebhook(ctx, store.CreateWebhookParams{
					TenantID: u.ID, Name: "hook", URL: "https://example.com/hook", Events: []string{"*"}, Secret: "whsec_x", IsActive: true,
				})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		created, refused := 0, 0
		for err := range errs {
			var limit *store.WebhookLimitError
			switch {
			case err == nil:
				created++
			case errors.As(err, &limit) && limit.Limit == 5:
				refused++
			default:
				t.Errorf("create: %v", err)
			}
		}
		hooks, _, err := s.ListWebhooks(ctx, u.ID, store.Page{Limit: 100})
		if err != nil || created != 5 || refused != tries-5 || len(hooks) != 5 {
			t.Fatalf("created %d, refused %d, listed %d (%v); want 5, %d, 5", created, refused, len(hooks), err, tries-5)
		}
		newWebhook(t, s, other.ID, "*") // another owner's count is its own
	}, store.WithMaxWebhooksPerOwner(5))
}

// TestDeliveryLimitPerRequest refuses a batch whose events would create more
// deliveries than the limit, creating nothing; replays create none and do
// not count.
func TestDeliveryLimitPerRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "many@x.io")
		for range 3 {
			newWebhook(t, s, u.ID, "*")
		}
		_, err := s.PublishEvents(ctx, events(u.ID, "message.new", 4))
		var limit *store.DeliveryLimitError
		if !errors.As(err, &limit) || limit.Deliveries != 12 || limit.Limit != 10 {
			t.Fatalf("publish 4 events × 3 webhooks = %v; want a DeliveryLimitError of 12 over 10", err)
		}
		if ev, del, _, _, err := s.FanOutCounts(ctx, u.ID); err != nil || ev != 0 || del != 0 {
			t.Fatalf("after the refusal: %d events, %d deliveries, %v; want none", ev, del, err)
		}
		batch := events(u.ID, "message.new", 3)
		for i := range batch {
			batch[i].IdempotencyKey = fmt.Sprint("k", i)
		}
		if _, err := s.PublishEvents(ctx, batch); err != nil {
			t.Fatalf("publish 9 deliveries: %v", err)
		}
		again := append(batch, events(u.ID, "message.new", 1)...)
		res, err := s.PublishEvents(ctx, again)
		if err != nil || !res[0].Duplicate || res[3].Duplicate {
			t.Fatalf("three replays and one new event = %+v, %v; want accepted", res, err)
		}
	}, store.WithMaxDeliveriesPerRequest(10))
}

// TestIdempotencyKeyContent (issue 12, item 5): a key used again with the
// same content replays the first event; with another type, data or
// timestamp it is refused, naming the event's place, and nothing of the
// batch is created. Keys are scoped to their owner.
func TestIdempotencyKeyContent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u, other := newUser(t, s, "idem@x.io"), newUser(t, s, "idem2@x.io")
		newWebhook(t, s, u.ID, "*")
		at := time.Date(2024, 1, 2, 3, 4, 5, 678000000, time.UTC)
		ev := func(typ, data string, at time.Time, hasTime bool) store.PublishParams {
			return store.PublishParams{TenantID: u.ID, Type: typ, Payload: []byte(data), OccurredAt: at, HasTimestamp: hasTime, IdempotencyKey: "msg_123"}
		}
		first, err := s.PublishEvents(ctx, []store.PublishParams{ev("message.new", `{"a":1,"b":[1,2]}`, at, true)})
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range map[string]store.PublishParams{
			"identical":            ev("message.new", `{"a":1,"b":[1,2]}`, at, true),
			"members in any order": ev("message.new", `{"b":[1,2],"a":1}`, at, true),
			"timestamp sub-ms":     ev("message.new", `{"a":1,"b":[1,2]}`, at.Add(300*time.Microsecond), true),
			"no timestamp":         ev("message.new", `{"a":1,"b":[1,2]}`, time.Now(), false),
		} {
			res, err := s.PublishEvents(ctx, []store.PublishParams{p})
			if err != nil || !res[0].Duplicate || res[0].Event.ID != first[0].Event.ID {
				t.Errorf("%s: %+v, %v; want a replay of %s", name, res, err, first[0].Event.ID)
			}
		}
		fresh := store.PublishParams{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: at, IdempotencyKey: "fresh"}
		for name, p := range map[string]store.PublishParams{
			"type":      ev("user.created", `{"a":1,"b":[1,2]}`, at, true),
			"data":      ev("message.new", `{"a":2,"b":[1,2]}`, at, true),
			"timestamp": ev("message.new", `{"a":1,"b":[1,2]}`, at.Add(time.Second), true),
		} {
			_, err := s.PublishEvents(ctx, []store.PublishParams{fresh, p})
			var conflict *store.IdempotencyConflictError
			if !errors.As(err, &conflict) || conflict.Index != 1 || conflict.Key != "msg_123" {
				t.Errorf("different %s: %v; want an IdempotencyConflictError for event 1, key msg_123", name, err)
			}
		}
		// Within one batch, against an earlier event of the batch.
		a := store.PublishParams{TenantID: u.ID, Type: "message.new", Payload: []byte(`{"x":1}`), OccurredAt: at, HasTimestamp: true, IdempotencyKey: "batch"}
		b := a
		b.Payload = []byte(`{"x":2}`)
		var conflict *store.IdempotencyConflictError
		if _, err := s.PublishEvents(ctx, []store.PublishParams{fresh, a, b}); !errors.As(err, &conflict) || conflict.Index != 2 {
			t.Errorf("two contents for one key in a batch: %v; want a conflict at event 2", err)
		}
		if evs, _, _, _, err := s.FanOutCounts(ctx, u.ID); err != nil || evs != 1 {
			t.Errorf("after the refusals the owner has %d events, %v; want only the first", evs, err)
		}
		if res, err := s.PublishEvents(ctx, []store.PublishParams{a, a}); err != nil || res[0].Duplicate || !res[1].Duplicate {
			t.Errorf("one content twice in a batch: %+v, %v; want the second replayed", res, err)
		}
		o := ev("user.created", `{"other":true}`, at, true)
		o.TenantID = other.ID
		if res, err := s.PublishEvents(ctx, []store.PublishParams{o}); err != nil || res[0].Duplicate {
			t.Errorf("another owner's msg_123: %+v, %v; want a new event", res, err)
		}
	})
}

// TestRunFanOutsFinishesLeftovers runs the background resumer serve starts
// over a fan-out left undone: it creates the deliveries, wakes the
// dispatcher, and stops with its context.
func TestRunFanOutsFinishesLeftovers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		u := newUser(t, s, "left@x.io")
		for range 3 {
			newWebhook(t, s, u.ID, "*")
		}
		s.SetFanOutChunk(2, nil)
		if _, err := s.PublishWithoutFanOut(ctx, events(u.ID, "message.new", 5)); err != nil {
			t.Fatal(err)
		}
		woken := make(chan struct{}, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.RunFanOuts(ctx, time.Hour, func() {
				select {
				case woken <- struct{}{}:
				default:
				}
			}, slog.New(slog.DiscardHandler))
		}()
		select {
		case <-woken:
		case <-time.After(30 * time.Second):
			t.Fatal("RunFanOuts did not wake the dispatcher within 30 s")
		}
		if _, del, pairs, pending, err := s.FanOutCounts(ctx, u.ID); err != nil || del != 15 || pairs != 15 || pending != 0 {
			t.Errorf("after RunFanOuts: %d deliveries over %d pairs, %d pending, %v; want 15, 15, 0", del, pairs, pending, err)
		}
		cancel()
		<-done
	})
}

// TestFanOutReadsOnlyWebhooksPastItsProgress publishes one event to 30
// webhooks in chunks of 10 and counts the webhook rows the fan-out's three
// transactions read to match it. Each chunk read all of the owner's
// webhooks again, 10,000 rows five times for a 10,000-webhook fan-out; now
// a chunk reads only those past the progress, 30 + 20 + 10 (3 more,
// created after the event, are past its last webhook and never read),
// compared in Go's byte order on both databases (on PostgreSQL by the "C"
// collation, whatever the database's), and it ends with exactly one
// delivery per webhook it matched when accepted.
func TestFanOutReadsOnlyWebhooksPastItsProgress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "span@x.io")
		for range 30 {
			newWebhook(t, s, u.ID, "*")
		}
		s.SetFanOutChunk(10, nil)
		res, err := s.PublishWithoutFanOut(ctx, events(u.ID, "message.new", 1))
		if err != nil || len(res) != 1 || res[0].Deliveries != 30 {
			t.Fatalf("publish = %+v, %v; want one event with 30 deliveries", res, err)
		}
		for range 3 {
			newWebhook(t, s, u.ID, "*") // after the event: past its last webhook
		}
		before := s.FanOutWebhooksRead()
		if n, err := s.ResumeFanOuts(ctx); err != nil || n != 30 {
			t.Fatalf("resume = %d deliveries, %v; want 30", n, err)
		}
		want := int64(30 + 20 + 10)
		if got := s.FanOutWebhooksRead() - before; got != want {
			t.Errorf("the fan-out's three chunks read %d webhook rows, want %d", got, want)
		}
		ev, del, pairs, pending, err := s.FanOutCounts(ctx, u.ID)
		if err != nil || ev != 1 || del != 30 || pairs != 30 || pending != 0 {
			t.Fatalf("after the fan-out: %d events, %d deliveries over %d pairs, %d pending, %v; want 1, 30, 30, 0", ev, del, pairs, pending, err)
		}
	})
}

// TestFanOutWakesTheDispatcherEachChunk checks, on SQLite, that each
// committed chunk of a large fan-out calls the wake function ListenForWork
// runs with, before the publish returns, so the dispatcher sends the first
// chunk's deliveries while the next ones are inserted. (PostgreSQL's
// chunks notify on commit, heard by ListenForWork in every process.)
func TestFanOutWakesTheDispatcherEachChunk(t *testing.T) {
	s := storetest.Open(t, storetest.SQLitePath(t))
	ctx := context.Background()
	u := newUser(t, s, "wake@x.io")
	for range 30 {
		newWebhook(t, s, u.ID, "*")
	}
	var mu sync.Mutex
	wakes := 0
	var perStep []int
	lctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.ListenForWork(lctx, func() {
			mu.Lock()
			wakes++
			mu.Unlock()
		}, slog.Default())
	}()
	defer func() { cancel(); <-stopped }()
	s.SetFanOutChunk(10, func() {
		mu.Lock()
		perStep = append(perStep, wakes)
		mu.Unlock()
	})
	g := s.NewGroupCommitter(16)
	defer g.Close()
	// ListenForWork registers its wake function as it starts: publish
	// until a fan-out has seen it, then count the next one's wakes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		perStep, wakes = nil, 0
		mu.Unlock()
		res, err := g.PublishEvents(ctx, events(u.ID, "message.new", 1))
		if err != nil || len(res) != 1 || res[0].Deliveries != 30 {
			t.Fatalf("publish = %+v, %v; want one event with 30 deliveries", res, err)
		}
		mu.Lock()
		got := slices.Clone(perStep)
		mu.Unlock()
		if len(got) != 3 {
			t.Fatalf("%d fan-out steps ran, want 3 chunks of 10", len(got))
		}
		if got[0] == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // not registered yet
			continue
		}
		for i, n := range got {
			if n != i+1 {
				t.Fatalf("wakes seen after each of the fan-out's steps = %v, want [1 2 3] (one per committed chunk, before the publish returns)", got)
			}
		}
		return
	}
}
