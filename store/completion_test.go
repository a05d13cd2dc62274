package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestFanOutCompletionCountsEachWebhook completes three fan-outs to more
// webhooks than one statement of the completion takes (stats are updated a
// chunk of webhooks a statement), each batch mixing successes and failures
// across the chunks, and checks every webhook's kept counters and its
// failure streak: the streak's start decides auto-disable, so only the
// webhooks that failed all three rounds, the first an hour and more before
// the last, are disabled.
func TestFanOutCompletionCountsEachWebhook(t *testing.T) {
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		c.t = start
		u := newUser(t, s, "fan@x.io")
		// Two chunks on PostgreSQL (200 + 189), uneven runs on SQLite.
		const n = 389
		hooks := make([]store.Webhook, n)
		index := map[string]int{}
		for i := range hooks {
			hooks[i] = newWebhook(t, s, u.ID, "message.new")
			index[hooks[i].ID] = i
		}
		rounds := []struct {
			at   time.Duration
			fail func(i int) bool
		}{
			{0, func(i int) bool { return i%2 == 1 }},
			{30 * time.Minute, func(i int) bool { return i%3 != 0 }},
			{61 * time.Minute, func(int) bool { return true }},
		}
		for r, round := range rounds {
			c.t = start.Add(round.at)
			res, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new",
				Payload: fmt.Appendf(nil, `{"round":%d}`, r), OccurredAt: c.t}})
			if err != nil || res[0].Deliveries != n {
				t.Fatalf("round %d: publish = %+v, %v; want %d deliveries", r, res, err, n)
			}
			leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 1000, LeaseFor: time.Minute})
			if err != nil || len(leased) != n {
				t.Fatalf("round %d: lease = %d, %v; want %d", r, len(leased), err, n)
			}
			batch := make([]store.Completion, 0, n)
			for _, l := range leased {
				cpl := store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{
					WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt,
					Status: store.AttemptSuccess, StatusCode: 200, DurationMs: int64(1 + index[l.WebhookID]%5)}}
				if round.fail(index[l.WebhookID]) {
					cpl.Log.Status, cpl.Log.StatusCode, cpl.Log.Error = store.AttemptFailed, 500, "HTTP 500"
				}
				batch = append(batch, cpl)
			}
			if fenced, err := s.CompleteDeliveries(ctx, batch); err != nil || fenced != n {
				t.Fatalf("round %d: complete = %d, %v; want %d", r, fenced, err, n)
			}
		}

		disabled := 0
		for i, h := range hooks {
			var success, streak int64
			var lastSuccess *time.Time
			for _, round := range rounds {
				if round.fail(i) {
					streak++
					continue
				}
				success, streak = success+1, 0
				at := start.Add(round.at)
				lastSuccess = &at
			}
			st, err := s.WebhookStats(ctx, u.ID, h.ID, nil)
			if err != nil {
				t.Fatalf("webhook %d: stats: %v", i, err)
			}
			lastFailure := start.Add(rounds[2].at)
			if st.TotalAttempts != 3 || st.SuccessfulAttempts != success || st.FailedAttempts != 3-success ||
				st.ConsecutiveFailures != streak || st.AverageDurationMs != float64(1+i%5) ||
				!sameTime(st.LastAttemptAt, &lastFailure) || !sameTime(st.LastFailureAt, &lastFailure) || !sameTime(st.LastSuccessAt, lastSuccess) {
				t.Errorf("webhook %d: stats = %+v (last attempt %v, success %v, failure %v); want 3 attempts, %d successful, %d consecutive failures, average %d ms, last success %v, last attempt and failure %v",
					i, st, st.LastAttemptAt, st.LastSuccessAt, st.LastFailureAt, success, streak, 1+i%5, lastSuccess, lastFailure)
			}
			// The same from the per-minute and per-hour counts, which a
			// window read sums.
			since := start.Add(-time.Minute)
			win, err := s.WebhookStats(ctx, u.ID, h.ID, &since)
			if err != nil {
				t.Fatalf("webhook %d: stats since %v: %v", i, since, err)
			}
			if win.TotalAttempts != 3 || win.SuccessfulAttempts != success || win.FailedAttempts != 3-success ||
				!sameTime(win.LastFailureAt, &lastFailure) || !sameTime(win.LastSuccessAt, lastSuccess) {
				t.Errorf("webhook %d: stats since %v = %+v (last success %v, failure %v); want 3 attempts, %d successful, last success %v, last failure %v",
					i, since, win, win.LastSuccessAt, win.LastFailureAt, success, lastSuccess, lastFailure)
			}
			w, err := s.Webhook(ctx, u.ID, h.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Failing since the first round, 61 minutes before the last.
			want := streak == 3
			if !w.IsActive != want {
				t.Errorf("webhook %d (%d consecutive failures): disabled = %v, want %v", i, streak, !w.IsActive, want)
			}
			if want {
				disabled++
			}
		}
		if disabled == 0 || disabled == n {
			t.Fatalf("%d of %d webhooks disabled: the rounds must disable some and not all", disabled, n)
		}
	}, store.WithClock(c.now), store.WithAutoDisable(store.AutoDisable{After: time.Hour, MinFailures: 2}))
}

// sameTime reports whether two optional times are both unset or the same
// instant.
func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// TestCompletionJoinsByKey checks the plans of the completion's joins to a
// VALUES list of a batch's keys: each row is found through the table's key.
// PostgreSQL, left to itself, hashed the list and read the whole
// deliveries and webhook_stats tables for it on every completion.
func TestCompletionJoinsByKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "plan@x.io")
		for range 300 {
			newWebhook(t, s, u.ID, "*")
		}
		if _, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 64, LeaseFor: time.Minute})
		if err != nil || len(leased) != 64 {
			t.Fatalf("lease = %d, %v; want 64", len(leased), err)
		}
		deliveries, stats, err := s.ExplainCompletion(ctx, leased)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ table, plan, key string }{
			{"deliveries", deliveries, "deliveries_pkey"},
			{"webhook_stats", stats, "webhook_stats_pkey"},
		} {
			if s.Kind() == store.SQLite {
				// SQLite searches the table by its key for each row of the list.
				if strings.Contains(c.plan, "SCAN "+c.table) || !strings.Contains(c.plan, "SEARCH "+c.table) {
					t.Errorf("%s: plan reads the table other than by key:\n%s", c.table, c.plan)
				}
				continue
			}
			if strings.Contains(c.plan, "Seq Scan") || strings.Contains(c.plan, "Hash") || !strings.Contains(c.plan, "Index Scan using "+c.key) {
				t.Errorf("%s: plan reads the table other than by key:\n%s", c.table, c.plan)
			}
		}
	})
}

// TestCompletionLogsRoundTrip records one attempt of each shape in one
// batch, a success with a response, a failure with no answer (status code
// and response absent) to be retried, and a failure for good with an
// answer and no headers, and reads each log row back field by field: on
// PostgreSQL they are written from one array a column.
func TestCompletionLogsRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "logs@x.io")
		hooks := []store.Webhook{newWebhook(t, s, u.ID, "*"), newWebhook(t, s, u.ID, "*"), newWebhook(t, s, u.ID, "*")}
		if _, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{"a":1}`), OccurredAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil || len(leased) != 3 {
			t.Fatalf("lease = %d, %v; want 3", len(leased), err)
		}
		retry := s.Now().Add(time.Hour).Truncate(time.Millisecond)
		want := map[string]store.Log{
			hooks[0].ID: {Status: store.AttemptSuccess, StatusCode: 200, DurationMs: 7, RequestHeaders: map[string]string{"Webhook-Id": "x"},
				RequestBody: []byte(`{"a":1}`), ResponseBody: []byte("ok")},
			hooks[1].ID: {Status: store.AttemptFailed, DurationMs: 30000, Error: "dial tcp: connection refused",
				RequestHeaders: map[string]string{"Webhook-Id": "y"}, RequestBody: []byte(`{"a":1}`), NextAttemptAt: &retry},
			hooks[2].ID: {Status: store.AttemptFailed, StatusCode: 500, DurationMs: 3, Error: "HTTP 500", RequestHeaders: map[string]string{},
				RequestBody: []byte{}, ResponseBody: []byte("boom")},
		}
		var batch []store.Completion
		for _, l := range leased {
			lg := want[l.WebhookID]
			lg.WebhookID, lg.EventID, lg.DeliveryID, lg.EventType, lg.Attempt = l.WebhookID, l.EventID, l.ID, l.EventType, l.Attempt
			want[l.WebhookID] = lg
			batch = append(batch, store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: lg, NextAttemptAt: lg.NextAttemptAt})
		}
		if n, err := s.CompleteDeliveries(ctx, batch); err != nil || n != 3 {
			t.Fatalf("complete = %d, %v; want 3", n, err)
		}
		for _, h := range hooks {
			logs, _, err := s.ListLogs(ctx, u.ID, h.ID, store.LogFilter{Page: store.Page{Limit: 10}})
			if err != nil || len(logs) != 1 {
				t.Fatalf("webhook %s: logs = %d, %v; want 1", h.ID, len(logs), err)
			}
			got, w := logs[0], want[h.ID]
			if got.ID == "" || got.WebhookID != w.WebhookID || got.EventID != w.EventID || got.DeliveryID != w.DeliveryID ||
				got.EventType != w.EventType || got.Attempt != w.Attempt || got.Status != w.Status || got.StatusCode != w.StatusCode ||
				got.DurationMs != w.DurationMs || got.Error != w.Error || got.Test || !sameTime(got.NextAttemptAt, w.NextAttemptAt) ||
				string(got.RequestBody) != string(w.RequestBody) || string(got.ResponseBody) != string(w.ResponseBody) ||
				fmt.Sprint(got.RequestHeaders) != fmt.Sprint(w.RequestHeaders) || got.CreatedAt.IsZero() {
				t.Errorf("webhook %s: log read back = %+v\nwant %+v", h.ID, got, w)
			}
			if (got.ResponseBody == nil) != (w.ResponseBody == nil) {
				t.Errorf("webhook %s: response body %q (nil %v), want nil %v", h.ID, got.ResponseBody, got.ResponseBody == nil, w.ResponseBody == nil)
			}
		}
	})
}

// TestFanOutKeepsWriterTextsFew leases and completes a fan-out in leases
// and batches of every size from 1 to 24, as the dispatcher does when its
// free workers and finished sends vary: on SQLite the writer's statements
// must keep to a few texts each, prepared once. The lease's window (its
// LIMIT) and the attempt counts' upsert were written with their size in the
// text, a new statement for each size, 154 in a 10,000-webhook fan-out.
func TestFanOutKeepsWriterTextsFew(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "texts@x.io")
		const n = 300
		for range n {
			newWebhook(t, s, u.ID, "*")
		}
		if _, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		done := 0
		for size := 1; done < n; size = size%24 + 1 {
			leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: size, LeaseFor: time.Minute})
			if err != nil || len(leased) == 0 {
				t.Fatalf("lease of %d after %d: %d, %v", size, done, len(leased), err)
			}
			var batch []store.Completion
			for _, l := range leased {
				batch = append(batch, store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{WebhookID: l.WebhookID,
					EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt, Status: store.AttemptSuccess, StatusCode: 200}})
			}
			if fenced, err := s.CompleteDeliveries(ctx, batch); err != nil || fenced != len(batch) {
				t.Fatalf("complete %d: %d, %v", len(batch), fenced, err)
			}
			done += len(leased)
		}
		if s.Kind() == store.SQLite {
			if got := s.PreparedWriterStatements(); got == 0 || got > 64 {
				t.Errorf("writer keeps %d statements prepared, want some, and no more than 64", got)
			}
		}
	})
}

// TestConcurrentCompletionsShareWebhooks records outcomes of the same
// webhooks from several goroutines at once, as several processes'
// dispatchers do on one PostgreSQL:
// every batch holds the three webhooks in a different order, so locks
// taken in batch order rather than id order would deadlock. Every
// completion must commit, and each webhook's kept counters and counts by
// minute must add up to exactly the attempts recorded.
func TestConcurrentCompletionsShareWebhooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "together@x.io")
		hooks := []store.Webhook{newWebhook(t, s, u.ID, "message.new"), newWebhook(t, s, u.ID, "message.new"),
			newWebhook(t, s, u.ID, "message.new")}
		const events, completers = 40, 4
		params := make([]store.PublishParams, events)
		for i := range params {
			params[i] = store.PublishParams{TenantID: u.ID, Type: "message.new", Payload: fmt.Appendf(nil, `{"n":%d}`, i), OccurredAt: s.Now()}
		}
		if _, err := s.PublishEvents(ctx, params); err != nil {
			t.Fatalf("publish: %v", err)
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 1000, LeaseFor: time.Minute})
		if err != nil || len(leased) != events*len(hooks) {
			t.Fatalf("lease = %d, %v; want %d", len(leased), err, events*len(hooks))
		}
		// Batches of three, one delivery of each webhook, in rotating
		// order, dealt round robin to the completers.
		byHook := map[string][]store.LeasedDelivery{}
		for _, l := range leased {
			byHook[l.WebhookID] = append(byHook[l.WebhookID], l)
		}
		work := make([][][]store.Completion, completers)
		for i := range events {
			batch := make([]store.Completion, 0, len(hooks))
			for k := range hooks {
				l := byHook[hooks[(i+k)%len(hooks)].ID][i]
				status, code := store.AttemptSuccess, 200
				if i%4 == 0 {
					status, code = store.AttemptFailed, 500
				}
				batch = append(batch, store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{
					WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt,
					Status: status, StatusCode: code, DurationMs: 7}})
			}
			work[i%completers] = append(work[i%completers], batch)
		}
		errs := make(chan error, events)
		var wg sync.WaitGroup
		for _, batches := range work {
			wg.Go(func() {
				for _, b := range batches {
					if n, err := s.CompleteDeliveries(ctx, b); err != nil || n != len(b) {
						errs <- fmt.Errorf("complete = %d, %v; want %d", n, err, len(b))
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		since := s.Now().Add(-time.Hour)
		for _, h := range hooks {
			st, err := s.WebhookStatsOf(ctx, h, nil)
			if err != nil {
				t.Fatalf("stats: %v", err)
			}
			if st.TotalAttempts != events || st.FailedAttempts != events/4 || st.SuccessfulAttempts != events-events/4 {
				t.Errorf("webhook %s: %d attempts, %d failed, %d succeeded; want %d, %d, %d", h.ID, st.TotalAttempts,
					st.FailedAttempts, st.SuccessfulAttempts, events, events/4, events-events/4)
			}
			recent, err := s.WebhookStatsOf(ctx, h, &since)
			if err != nil {
				t.Fatalf("stats since: %v", err)
			}
			if recent.TotalAttempts != events || recent.SuccessfulAttempts != events-events/4 {
				t.Errorf("webhook %s in the last hour: %d attempts, %d succeeded; want %d, %d", h.ID, recent.TotalAttempts,
					recent.SuccessfulAttempts, events, events-events/4)
			}
		}
	})
}
