package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store/storetest"
)

// TestE2EOwnerCannotHoldAllWorkers is issue 12, item 3, with default flags
// but a delivery timeout longer than the test waits: user B's 20 receivers
// never answer, with hundreds of B's deliveries queued, enough to take all
// 256 workers. User A's deliveries must still all arrive while B's requests
// hang, not after B's attempts time out.
func TestE2EOwnerCannotHoldAllWorkers(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		const bob, bobPassword = "bob@example.com", "bob's long password"
		// Only serve and migrate up create a database (issue 12, item 12).
		mustWebhookd(t, nil, "", "migrate", "up", "--db", db)
		mustWebhookd(t, nil, "", "user", "create", "--email", bob, "--password", bobPassword, "--db", db)
		// Four hosts, as one host gets at most 4 × --max-in-flight-per-webhook
		// connections; each holds every request until the test ends.
		var hanging []*receiver
		for range 4 {
			hanging = append(hanging, newGatedReceiver(t, 0))
		}
		held := func() int {
			n := 0
			for _, rc := range hanging {
				n += len(rc.heldIDs())
			}
			return n
		}
		fast := newReceiver(t)
		p := startServe(t, db, adminEnv, "--delivery-timeout", "60s")
		apiA := api{t: t, base: p.URL, token: login(t, p.URL, adminEmail, adminPassword)}
		apiB := api{t: t, base: p.URL, token: login(t, p.URL, bob, bobPassword)}
		for i := range 20 {
			createWebhook(t, apiB, hanging[i%4].URL+"/"+strconv.Itoa(i))
		}
		for i := range 15 { // 300 deliveries: 16 in flight each would be 320
			apiB.json(http.MethodPost, "/api/v1/events", fmt.Sprintf(`{"event":"message.new","data":{"n":%d}}`, i), http.StatusAccepted, nil)
		}
		// B alone takes all workers but one share: 256 less 64.
		const workersB = 256 - 256/4
		waitFor(t, 30*time.Second, func() (bool, string) {
			n := held()
			return n >= workersB, fmt.Sprintf("%d of B's requests hanging, have %d", workersB, n)
		})

		hookA := createWebhook(t, apiA, fast.URL)
		start := time.Now()
		publish(t, apiA, 50)
		waitSettled(t, apiA, hookA.ID, 50)
		t.Logf("user A's 50 deliveries settled %s after the first was published, with %d of B's requests hanging",
			time.Since(start).Round(time.Millisecond), held())
		if n := held(); n > workersB {
			t.Errorf("%d of B's requests hang, want at most %d", n, workersB)
		}
	})
}
