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
