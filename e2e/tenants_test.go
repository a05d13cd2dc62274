package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestE2ETenants runs issue 15's CLI and service key with the real binary:
// tenants made, listed and deleted by 'webhookd tenant', members joined by
// 'user create --tenant', a service key from 'apikey create --service'
// publishing for each tenant, and each delivery reaching that tenant's
// receiver only.
func TestE2ETenants(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		mustWebhookd(t, nil, "", "migrate", "up", "--db", db)

		if r := mustWebhookd(t, nil, "", "tenant", "create", "--id", "acme", "--name", "Acme", "--metadata", `{"plan": "pro"}`, "--db", db); !strings.Contains(r.stdout, "created tenant acme") {
			t.Errorf("tenant create printed %q, want created tenant acme", r.stdout)
		}
		if r := mustWebhookd(t, nil, "", "tenant", "create", "--id", "acme", "--name", "Acme", "--db", db); !strings.Contains(r.stdout, "tenant acme exists") {
			t.Errorf("tenant create again printed %q, want that it exists", r.stdout)
		}
		for _, args := range [][]string{
			{"tenant", "create", "--id", "not a tenant id"},
			{"tenant", "create", "--id", "x", "--metadata", "[1]"},
			{"tenant", "delete", "--id", "nobody"},
			{"user", "create", "--email", "x@example.com", "--password", "long enough password", "--tenant", "-bad"},
			{"apikey", "create", "--service", "--tenant", "acme", "--name", "both"},
		} {
			if r := webhookd(t, nil, "", append(args, "--db", db)...); r.code == 0 {
				t.Errorf("%s\nwant a non-zero exit", r)
			}
		}
		const password = "a tenant member's password"
		for _, u := range [][2]string{{"agent1@acme.example.com", "acme"}, {"agent2@acme.example.com", "acme"}, {"agent@beta.example.com", "org_beta"}} {
			mustWebhookd(t, nil, "", "user", "create", "--email", u[0], "--password", password, "--tenant", u[1], "--db", db)
		}
		svc := strings.TrimSpace(mustWebhookd(t, nil, "", "apikey", "create", "--service", "--name", "crm-backend", "--db", db).stdout)
		if !strings.HasPrefix(svc, "whk_") || strings.ContainsAny(svc, " \n") {
			t.Fatalf("apikey create --service printed %q, want one whk_ key", svc)
		}
		list := mustWebhookd(t, nil, "", "tenant", "list", "--db", db).stdout
		for _, want := range []string{"acme", "Acme", "org_beta"} {
			if !strings.Contains(list, want) {
				t.Errorf("tenant list:\n%s\nwant it to show %s", list, want)
			}
		}
		if !tenantRow(list, "acme", "0", "2") || !tenantRow(list, "org_beta", "0", "1") {
			t.Errorf("tenant list:\n%s\nwant acme with 0 webhooks and 2 members, org_beta with 0 and 1", list)
		}

		p := startProcess(t, []string{"WEBHOOKD_ADDR=127.0.0.1:0", "WEBHOOKD_DB=" + db}, "serve")
		member := func(email, tenant string) api {
			t.Helper()
			var l loginWire
			api{t: t, base: p.URL}.json(http.MethodPost, "/api/v1/auth/login", fmt.Sprintf(seedLoginBody, email, password), http.StatusOK, &l)
			if l.User.Tenant != tenant {
				t.Errorf("%s logs in with tenant %q, want %q", email, l.User.Tenant, tenant)
			}
			return api{t: t, base: p.URL, token: l.AccessToken}
		}
		acme1, acme2, beta := member("agent1@acme.example.com", "acme"), member("agent2@acme.example.com", "acme"), member("agent@beta.example.com", "org_beta")
		rcAcme, rcBeta := newReceiver(t), newReceiver(t)
		acmeHook := createWebhook(t, acme1, rcAcme.URL)
		betaHook := createWebhook(t, beta, rcBeta.URL)
		// The other member of acme sees and manages agent1's webhook.
		acme2.json(http.MethodPatch, "/api/v1/webhooks/"+acmeHook.ID, `{"description":"agent2 was here"}`, http.StatusOK, nil)
		if code, _ := beta.call(http.MethodGet, "/api/v1/webhooks/"+acmeHook.ID, ""); code != http.StatusNotFound {
			t.Errorf("beta's member reads acme's webhook: status %d, want 404", code)
		}

		service := api{t: t, base: p.URL, token: svc}
		pub := func(tenant string, n int) {
			t.Helper()
			var ev wiretest.Accepted
			service.json(http.MethodPost, "/api/v1/events", fmt.Sprintf(`{"tenant":%q,"event":"message.new","data":{"n":%d,"owner":%q}}`, tenant, n, tenant), http.StatusAccepted, &ev)
			if ev.Deliveries != 1 {
				t.Fatalf("publish for %s reached %d webhooks, want its 1", tenant, ev.Deliveries)
			}
		}
		pub("acme", 0)
		pub("org_beta", 0)
		rcAcme.waitAnswered(t, 1)
		rcBeta.waitAnswered(t, 1)
		pub("acme", 1)
		rcAcme.waitAnswered(t, 2)
		waitSettled(t, acme1, acmeHook.ID, 2)
		waitSettled(t, beta, betaHook.ID, 1)
		for rc, tenant := range map[*receiver]string{rcAcme: "acme", rcBeta: "org_beta"} {
			for _, a := range rc.all() {
				if !strings.Contains(string(a.body), `"owner":"`+tenant+`"`) {
					t.Errorf("%s's receiver got %s", tenant, a.body)
				}
			}
		}
		if n := len(rcBeta.all()); n != 1 {
			t.Errorf("beta's receiver got %d deliveries, want its 1", n)
		}
		if code, body := service.call(http.MethodPost, "/api/v1/events", `{"event":"message.new","data":{}}`); code != http.StatusBadRequest || !strings.Contains(string(body), "tenant") {
			t.Errorf("service publish without a tenant: status %d, body %s; want 400 naming tenant", code, body)
		}

		list = mustWebhookd(t, nil, "", "tenant", "list", "--db", db).stdout
		if !tenantRow(list, "acme", "1", "2") {
			t.Errorf("tenant list while serving:\n%s\nwant acme with 1 webhook and 2 members", list)
		}
		if r := mustWebhookd(t, nil, "", "tenant", "delete", "--id", "org_beta", "--db", db); !strings.Contains(r.stdout, "deleted tenant org_beta") {
			t.Errorf("tenant delete printed %q", r.stdout)
		}
		if code, _ := (api{t: t, base: p.URL}).call(http.MethodPost, "/api/v1/auth/login", fmt.Sprintf(seedLoginBody, "agent@beta.example.com", password)); code != http.StatusUnauthorized {
			t.Errorf("login as a deleted tenant's member: status %d, want 401", code)
		}
		if code, _ := acme2.call(http.MethodGet, "/api/v1/webhooks/"+acmeHook.ID, ""); code != http.StatusOK {
			t.Errorf("acme's webhook after beta's delete: status %d, want 200", code)
		}
		list = mustWebhookd(t, nil, "", "tenant", "list", "--db", db).stdout
		if strings.Contains(list, "org_beta") || !strings.Contains(list, "acme") {
			t.Errorf("tenant list after the delete:\n%s", list)
		}
	})
}

// tenantRow reports whether 'tenant list' shows tenant with that many
// webhooks and members.
func tenantRow(list, tenant, webhooks, members string) bool {
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == tenant {
			// TENANT NAME… WEBHOOKS MEMBERS CREATED(date time)
			n := len(f)
			return f[n-4] == webhooks && f[n-3] == members
		}
	}
	return false
}
