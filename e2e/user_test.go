package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store/storetest"
)

// Issue 12 item 2: `webhookd user unlock --email E` lifts the login
// throttle of an email locked by failed logins, beside a running serve.
func TestE2EUserUnlock(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		dbEnv := "WEBHOOKD_DB=" + db
		p := startServe(t, db, adminEnv, "--login-max-failures", "3", "--login-window", "1h")
		// Each failure from its own address, so that only the email is
		// locked: unlock is about the account.
		for i := range 3 {
			if code := loginFromAddr(t, p.URL, "127.0.0."+strconv.Itoa(21+i), adminEmail, "not the admin password"); code != http.StatusUnauthorized {
				t.Fatalf("wrong password: status %d, want 401", code)
			}
		}
		if code := loginFromAddr(t, p.URL, "127.0.0.24", adminEmail, adminPassword); code != http.StatusTooManyRequests {
			t.Fatalf("right password after 3 failures: status %d, want 429", code)
		}
		r := mustWebhookd(t, []string{dbEnv}, "", "user", "unlock", "--email", strings.ToUpper(adminEmail))
		if !strings.Contains(r.stdout, "cleared the failed logins of "+adminEmail) {
			t.Errorf("user unlock printed %q, want it to name %s", r.stdout, adminEmail)
		}
		login(t, p.URL, adminEmail, adminPassword)
		if r := webhookd(t, []string{dbEnv}, "", "user", "unlock", "--email", "nobody@example.com"); r.code == 0 || !strings.Contains(r.stderr, "no user") {
			t.Errorf("unlocking a missing user: %s, want an error naming it", r)
		}
	})
}

// loginFromAddr logs in from the loopback address ip and returns the
// status, skipping t where the system cannot send from that address.
func loginFromAddr(t testing.TB, base, ip, email, password string) int {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: time.Minute}
	resp, err := c.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(fmt.Sprintf(seedLoginBody, email, password)))
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Skipf("cannot send from %s on this system: %v", ip, err)
	}
	if err != nil {
		t.Fatalf("login from %s: %v", ip, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Issue 19: `webhookd user list` shows who can sign in, every user or one
// tenant's, with disabled users marked.
func TestE2EUserList(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		env := []string{"WEBHOOKD_DB=" + db}
		mustWebhookd(t, env, "", "migrate", "up")
		if r := mustWebhookd(t, env, "", "user", "list"); strings.TrimSpace(r.stdout) != "no users" {
			t.Errorf("user list on an empty database printed %q, want \"no users\"", r.stdout)
		}
		for _, u := range []struct{ email, tenant string }{
			{"ana@acme.example", "acme"}, {"bo@acme.example", "acme"}, {"cy@globex.example", "globex"},
		} {
			mustWebhookd(t, env, "a long enough password\n", "user", "create", "--email", u.email, "--tenant", u.tenant)
		}
		mustWebhookd(t, env, "", "user", "disable", "--email", "bo@acme.example")

		all := mustWebhookd(t, env, "", "user", "list").stdout
		lines := strings.Split(strings.TrimSpace(all), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "EMAIL") {
			t.Fatalf("user list printed %d lines, want a header and 3 users:\n%s", len(lines), all)
		}
		for i, want := range []struct{ email, tenant, state string }{
			{"ana@acme.example", "acme", "active"}, {"bo@acme.example", "acme", "disabled since "}, {"cy@globex.example", "globex", "active"},
		} {
			f := strings.Fields(lines[i+1])
			if len(f) < 3 || f[0] != want.email || f[1] != want.tenant || !strings.HasPrefix(strings.Join(f[2:], " "), want.state) {
				t.Errorf("user list line %d = %q, want %s in %s, %s…", i+1, lines[i+1], want.email, want.tenant, want.state)
			}
		}
		acme := mustWebhookd(t, env, "", "user", "list", "--tenant", "acme").stdout
		if strings.Contains(acme, "cy@globex.example") || !strings.Contains(acme, "ana@acme.example") || !strings.Contains(acme, "bo@acme.example") {
			t.Errorf("user list --tenant acme printed another tenant's users or missed its own:\n%s", acme)
		}
		if r := mustWebhookd(t, env, "", "user", "list", "--tenant", "initech"); !strings.Contains(r.stdout, "tenant initech has no users") {
			t.Errorf("user list --tenant initech printed %q, want it to say the tenant has no users", r.stdout)
		}
	})
}
