package e2e

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store/storetest"
)

// orderedReceiver fails about 10% of first attempts (by a hash of the
// delivery id, not by timing) and records, per ordering key, the events it
// accepted in the order they came.
type orderedReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	attempts map[string]int
	byKey    map[string][]int
	ok       map[int]bool
}

func newOrderedReceiver(t *testing.T) *orderedReceiver {
	t.Helper()
	rc := &orderedReceiver{attempts: map[string]int{}, byKey: map[string][]int{}, ok: map[int]bool{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var env struct {
			Data struct {
				Key string `json:"conversationId"`
				N   int    `json:"n"`
			} `json:"data"`
		}
		if err == nil {
			err = json.Unmarshal(body, &env)
		}
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		id := r.Header.Get("Webhook-Id")
		h := fnv.New32a()
		h.Write([]byte(id))
		rc.mu.Lock()
		rc.attempts[id]++
		fail := rc.attempts[id] == 1 && h.Sum32()%10 == 0
		if !fail {
			rc.byKey[env.Data.Key] = append(rc.byKey[env.Data.Key], env.Data.N)
			rc.ok[env.Data.N] = true
		}
		rc.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(func() {
		rc.CloseClientConnections()
		rc.Close()
	})
	return rc
}

func (rc *orderedReceiver) delivered() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.ok)
}

// TestE2EOrderedDeliveryTwoProcessesKilled: 1,000 events over 20 keys,
// published through two webhookd processes on one PostgreSQL, to a FIFO
// webhook whose receiver fails 10% of first attempts; one process is
// killed (kill -9) mid-run. Every event arrives, and each key's events
// arrive in the order they were accepted. The killed process's sends in
// flight may arrive again once their leases end (at least once), but
// never after a later event of their key.
func TestE2EOrderedDeliveryTwoProcessesKilled(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	const events, keys, batch = 1000, 20, 50
	rc := newOrderedReceiver(t)
	args := []string{"--delivery-timeout", "5s", "--lease-duration", "8s", "--retry-schedule", "100ms,100ms,100ms,100ms"}
	a := startServe(t, db, adminEnv, args...)
	b := startServe(t, db, adminEnv, args...)
	apiA := api{t: t, base: a.URL, token: login(t, a.URL, adminEmail, adminPassword)}
	apiB := api{t: t, base: b.URL, token: apiA.token}
	var hook webhookWire
	apiA.json(http.MethodPost, "/api/v1/webhooks", fmt.Sprintf(`{"name":"fifo","url":%q,"events":["message.new"],"ordering":"fifo","orderingKey":"data.conversationId"}`, rc.URL),
		http.StatusCreated, &hook)

	killed := false
	for first := 0; first < events; first += batch {
		target := apiA
		if (first/batch)%2 == 1 && !killed {
			target = apiB
		}
		var sb strings.Builder
		sb.WriteString(`{"events":[`)
		for n := first; n < first+batch; n++ {
			if n > first {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"event":"message.new","data":{"conversationId":"c-%d","n":%d}}`, n%keys, n)
		}
		sb.WriteString(`]}`)
		// Batches go one after the other: each is accepted before the
		// next, so acceptance order is n's order within a key.
		target.json(http.MethodPost, "/api/v1/events/batch", sb.String(), http.StatusAccepted, nil)
		if !killed && first >= events/2 {
			waitFor(t, 60*time.Second, func() (bool, string) {
				n := rc.delivered()
				return n >= events/4, fmt.Sprintf("a quarter of the events delivered before the kill, have %d", n)
			})
			b.signal(syscall.SIGKILL)
			b.wait(30 * time.Second)
			killed = true
		}
	}
	waitFor(t, 180*time.Second, func() (bool, string) {
		n := rc.delivered()
		return n == events, fmt.Sprintf("%d events delivered, have %d", events, n)
	})
	waitSettledFor(t, apiA, hook.ID, events, 60*time.Second)

	rc.mu.Lock()
	defer rc.mu.Unlock()
	failed := 0
	for id, n := range rc.attempts {
		h := fnv.New32a()
		h.Write([]byte(id))
		if h.Sum32()%10 == 0 && n > 1 {
			failed++
		}
	}
	if failed == 0 {
		t.Errorf("no first attempt failed and was retried; want about 10%%")
	}
	for k := range keys {
		key := "c-" + strconv.Itoa(k)
		got := rc.byKey[key]
		// A send the killed process held may arrive again when its lease
		// ends, right after itself: nothing of its key went meanwhile.
		var order []int
		for i, n := range got {
			if i > 0 && got[i-1] == n {
				continue
			}
			order = append(order, n)
		}
		if len(order) != events/keys {
			t.Errorf("key %s: %d distinct arrivals in a row, want %d: %v", key, len(order), events/keys, got)
			continue
		}
		for i, n := range order {
			if want := k + i*keys; n != want {
				t.Errorf("key %s: arrival %d is event %d, want %d (arrivals %v)", key, i, n, want, got)
				break
			}
		}
	}
}
