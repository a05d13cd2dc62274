package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// hashAtCost hashes testPassword at bcrypt cost, for tests that need a
// password check to take a while so that requests overlap.
func hashAtCost(t testing.TB, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), cost)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	return string(h)
}

// withMaxChecks bounds the password checks running at once, as
// --max-password-checks does.
func withMaxChecks(n int) serverOption {
	return func(c *server.Config) { c.Throttle.MaxChecks = n }
}

// burstResult counts a burst's answers by status.
type burstResult struct {
	mu       sync.Mutex
	statuses map[int]int
	errs     []error
}

func (b *burstResult) add(resp response, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.errs = append(b.errs, err)
		return
	}
	if b.statuses == nil {
		b.statuses = map[int]int{}
	}
	b.statuses[resp.Status]++
	if resp.Status == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		b.errs = append(b.errs, fmt.Errorf("429 without Retry-After: %s", resp.Body))
	}
}

// burst sends n logins with a wrong password for email at once, spread over
// the servers given, and returns a channel closed when all have answered.
func burst(servers []*testServer, email string, n int, into *burstResult) <-chan struct{} {
	finished := make(chan struct{})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		s := servers[i%len(servers)]
		wg.Go(func() {
			<-start
			into.add(postLogin(s, s.srv.Client(), email, "not the password at all"))
		})
	}
	close(start)
	go func() {
		wg.Wait()
		close(finished)
	}()
	return finished
}

// waitForAttempts polls until the store has counted at least n attempts
// against key within the last hour.
func waitForAttempts(t testing.TB, st *store.Store, key string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _, err := st.LoginFailures(context.Background(), key, st.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d attempts counted after 30s, want %d", key, got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkBurst requires that a burst of wrong passwords got exactly limit
// checks (401) and 429 for the rest, and that the store counted limit
// failures for the email.
func checkBurst(t *testing.T, st *store.Store, res *burstResult, n, limit int, key string) {
	t.Helper()
	if err := errors.Join(res.errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d concurrent wrong passwords: %d checked (401), %d refused (429)", n,
		res.statuses[http.StatusUnauthorized], res.statuses[http.StatusTooManyRequests])
	if got := res.statuses[http.StatusUnauthorized]; got != limit {
		t.Errorf("%d of %d concurrent wrong passwords were checked (401), want the limit %d; answers %v", got, n, limit, res.statuses)
	}
	if got := res.statuses[http.StatusTooManyRequests]; got != n-limit {
		t.Errorf("%d answers were 429, want %d; answers %v", got, n-limit, res.statuses)
	}
	got, _, err := st.LoginFailures(context.Background(), key, st.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got != limit {
		t.Errorf("the store counted %d failures for %s, want %d", got, key, limit)
	}
}

// Issue 12 item 2: a concurrent burst of wrong passwords gets no more
// password checks than the limit, and the right password sent once the
// limit is reached is refused, not given a token.
func TestLoginThrottleConcurrentBurst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const n, limit = 60, 10
		s := newTestServer(t, st, withThrottle(limit, 15*time.Minute))
		// A check that takes a while, so that the burst overlaps.
		s.userWithHash(t, "burst@example.com", hashAtCost(t, 8))
		var res burstResult
		finished := burst([]*testServer{s}, "burst@example.com", n, &res)
		// Inside the burst, once the limit is reached: the right password
		// is refused too.
		waitForAttempts(t, st, "email:burst@example.com", limit)
		right, err := postLogin(s, s.srv.Client(), "burst@example.com", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if right.Status != http.StatusTooManyRequests {
			t.Errorf("the right password inside the burst: status %d, want 429; body %s", right.Status, right.Body)
		}
		<-finished
		checkBurst(t, st, &res, n, limit, "email:burst@example.com")
	})
}

// Issue 12 item 2: two processes on one database share the count: the
// reservation holds across them (two stores opened on the same database,
// each behind its own server).
func TestLoginThrottleAcrossProcesses(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		const n, limit = 60, 10
		first := storetest.Open(t, db)
		var opts []store.Option
		if first.Kind() == store.SQLite {
			// One serving process per SQLite file; the other writer is an
			// administrative one, as 'webhookd user' is.
			opts = append(opts, store.ForAdmin())
		}
		second := storetest.Open(t, db, opts...)
		a := newTestServer(t, first, withThrottle(limit, 15*time.Minute))
		b := newTestServer(t, second, withThrottle(limit, 15*time.Minute))
		a.userWithHash(t, "shared@example.com", hashAtCost(t, 8))
		var res burstResult
		<-burst([]*testServer{a, b}, "shared@example.com", n, &res)
		checkBurst(t, first, &res, n, limit, "email:shared@example.com")
	})
}

// Issue 12 item 2: with every password-check slot taken, a login is refused
// at once with 429 and Retry-After rather than queued.
func TestLoginMaxPasswordChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st, withThrottle(100, time.Hour), withMaxChecks(1))
		// A check of a second or more, so that the slot stays taken
		// while the second login is sent.
		s.userWithHash(t, "slow@example.com", hashAtCost(t, 12))
		cheapUser(t, s, "quick@example.com")
		for round := 0; ; round++ {
			var slowDone atomic.Bool
			slowFinished := make(chan response, 1)
			go func() {
				resp, _ := postLogin(s, s.srv.Client(), "slow@example.com", "a wrong guess "+fmt.Sprint(round))
				slowDone.Store(true)
				slowFinished <- resp
			}()
			// The slow login has its slot once its attempt is counted.
			waitForAttempts(t, st, "email:slow@example.com", round+1)
			resp, err := postLogin(s, s.srv.Client(), "quick@example.com", testPassword)
			if err != nil {
				t.Fatal(err)
			}
			stillChecking := !slowDone.Load()
			if resp.Status == http.StatusTooManyRequests {
				e := wantError(t, resp, http.StatusTooManyRequests)
				if resp.Header.Get("Retry-After") != "1" || !strings.Contains(e.Message, "at once") {
					t.Errorf("busy answer: Retry-After %q, message %q; want 1 and a message saying too many checks at once", resp.Header.Get("Retry-After"), e.Message)
				}
				if slow := <-slowFinished; slow.Status != http.StatusUnauthorized {
					t.Errorf("the slow login: status %d, want 401", slow.Status)
				}
				// Once the slot is free, the login goes through.
				loginAs(t, s, "quick@example.com", testPassword, http.StatusOK)
				return
			}
			<-slowFinished
			if stillChecking {
				t.Fatalf("a login while the only check slot was taken: status %d, want 429; body %s", resp.Status, resp.Body)
			}
			// The slow check ended before the second login arrived: the
			// machine was slower than bcrypt here; try again.
			if round == 4 {
				t.Fatalf("the slow check ended before the second login in 5 rounds")
			}
		}
	})
}

// Issue 12 item 2: failed logins count against an IPv6 client's /64, not
// its single address: a client holding a /64 that changes address on every
// attempt, and names a new email each time, still reaches the limit. An
// IPv4-mapped address counts as its IPv4 address.
func TestLoginThrottleIPv6Prefix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const limit = 3
		s := newTestServer(t, st, withThrottle(limit, 15*time.Minute))
		login := func(remote, email string) int {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login",
				strings.NewReader(`{"email":"`+email+`","password":"not the password at all"}`))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = remote
			rec := httptest.NewRecorder()
			s.srv.Config.Handler.ServeHTTP(rec, req)
			return rec.Code
		}
		for i := range limit {
			if code := login(fmt.Sprintf("[2001:db8:1:2::%x]:%d", i+1, 40000+i), fmt.Sprintf("nobody%d@example.com", i)); code != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d, want 401", i, code)
			}
		}
		if code := login("[2001:db8:1:2:ffff:ffff:ffff:fffe]:50000", "someone.else@example.com"); code != http.StatusTooManyRequests {
			t.Errorf("another address in the same /64 after %d failures: %d, want 429", limit, code)
		}
		if code := login("[2001:db8:1:3::1]:50000", "someone.else@example.com"); code != http.StatusUnauthorized {
			t.Errorf("an address in another /64: %d, want 401", code)
		}
		for i := range limit {
			if code := login(fmt.Sprintf("192.0.2.7:%d", 40000+i), fmt.Sprintf("v4nobody%d@example.com", i)); code != http.StatusUnauthorized {
				t.Fatalf("IPv4 attempt %d: %d, want 401", i, code)
			}
		}
		if code := login("[::ffff:192.0.2.7]:50000", "v4someone.else@example.com"); code != http.StatusTooManyRequests {
			t.Errorf("the IPv4-mapped spelling of a locked-out address: %d, want 429", code)
		}
	})
}
