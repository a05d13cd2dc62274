package e2e

// Issue 18 item 4's bench modes on the real binary: many tenants with a
// mix of event types (--tenants) and a backlog drained against the clock
// (--backlog). Only the report's form and the deliveries' count are
// checked: rates belong to BENCHMARKS.md, not to tests.

import (
	"regexp"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store/storetest"
)

var benchDrainRate = regexp.MustCompile(`deliveries per second \(backlog draining\)\s+(\d+)`)

func TestE2EBenchScale(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		withDB := func(args ...string) []string {
			if strings.HasPrefix(db, "postgres") {
				args = append(args, "--db", db)
			}
			return args
		}

		t.Run("tenants", func(t *testing.T) {
			// Five webhooks a tenant, one per event type: each event
			// reaches exactly one of its tenant's webhooks.
			r := mustWebhookd(t, nil, "", withDB("bench", "--tenants", "4", "--webhooks", "5", "--events", "60", "--concurrency", "4")...)
			if !strings.Contains(r.stdout, "webhookd bench: 60 events × 5 webhooks in each of 4 tenants (20 webhooks in all;") {
				t.Errorf("the report does not say what ran\n%s", r)
			}
			checkBenchReport(t, r, 60)
		})

		t.Run("tenants with two webhooks a type, steady", func(t *testing.T) {
			r := mustWebhookd(t, nil, "", withDB("bench", "--tenants", "3", "--webhooks", "10", "--duration", "1s", "--rate", "50")...)
			checkBenchReport(t, r, 100)
		})

		t.Run("backlog", func(t *testing.T) {
			r := mustWebhookd(t, nil, "", withDB("bench", "--backlog", "300", "--batch", "100", "--webhooks", "2")...)
			for _, f := range []string{"backlog loaded (receiver holding)", "time from first answer to last arrival", "peak RSS"} {
				if !strings.Contains(r.stdout, "  "+f+" ") {
					t.Errorf("the report lacks %q\n%s", f, r)
				}
			}
			if !strings.Contains(r.stdout, "300 events in ") {
				t.Errorf("the report does not say how many events the backlog held\n%s", r)
			}
			m := benchArrived.FindStringSubmatch(r.stdout)
			if m == nil || m[1] != "600" {
				t.Fatalf("want 600 deliveries arrived, none missing or twice\n%s", r)
			}
			if rate := benchDrainRate.FindStringSubmatch(r.stdout); rate == nil || rate[1] == "0" {
				t.Errorf("no draining rate in the report\n%s", r)
			}
		})
	})

	t.Run("tenants against a running webhookd need a service key", func(t *testing.T) {
		p := startServe(t, storetest.SQLitePath(t), adminEnv)
		token := login(t, p.URL, adminEmail, adminPassword)
		r := webhookd(t, nil, "", "bench", "--target", p.URL, "--token", token, "--tenants", "2", "--events", "10")
		if r.code == 0 || !strings.Contains(r.stderr, "--tenants needs a service API key") {
			t.Errorf("%s\nwant a non-zero exit saying --tenants needs a service key", r)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{"bench", "--tenants", "-1"},
			{"bench", "--backlog", "-1"},
			{"bench", "--backlog", "10", "--duration", "1s", "--rate", "10"},
			{"bench", "--tenants", "2", "--filter", `{"event": "message.new"}`},
		} {
			r := webhookd(t, nil, "", args...)
			if r.code == 0 || !strings.Contains(r.stderr, "bench:") {
				t.Errorf("%s\nwant a non-zero exit naming bench's problem", r)
			}
		}
	})
}
