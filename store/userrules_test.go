package store_test

import (
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store"
)

// The user rules that 'webhookd user', serve's first admin and the login
// throttle share (issue 14 item 1: they were written three times).
func TestUserRules(t *testing.T) {
	for in, want := range map[string]string{" Ann@Example.COM\n": "ann@example.com", "bob@x": "bob@x"} {
		if got := store.NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for _, ok := range []string{"a@b", " ann@example.com "} {
		if err := store.CheckEmail(ok); err != nil {
			t.Errorf("CheckEmail(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "no-at-sign", "two words@x", "tab\t@x", strings.Repeat("a", 250) + "@b.cd"} {
		if err := store.CheckEmail(bad); err == nil || !strings.Contains(err.Error(), "is not an email address") {
			t.Errorf("CheckEmail(%q) = %v, want \"... is not an email address\"", bad, err)
		}
	}
	for pw, ok := range map[string]bool{"elevenchars": false, "twelve chars": true, "ééééééééééé": false, "éééééééééééé": true} {
		err := store.CheckPassword(pw)
		if ok && err != nil {
			t.Errorf("CheckPassword(%q) = %v, want nil", pw, err)
		}
		if !ok && (err == nil || err.Error() != "password must be at least 12 characters") {
			t.Errorf("CheckPassword(%q) = %v, want \"password must be at least 12 characters\"", pw, err)
		}
	}
}
