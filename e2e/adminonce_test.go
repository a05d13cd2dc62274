package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store/storetest"
)

// TestE2EEnvAdminCreatedOncePerDatabase: WEBHOOKD_ADMIN_EMAIL and
// WEBHOOKD_ADMIN_PASSWORD bootstrap a database once. An administrator
// deleted afterwards (someone who left) does not come back at the next
// restart with the password still in the environment, and the sign-in
// page does not name it.
func TestE2EEnvAdminCreatedOncePerDatabase(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		p := startServe(t, db, adminEnv)
		login(t, p.URL, adminEmail, adminPassword)
		p.stop()

		mustWebhookd(t, []string{"WEBHOOKD_DB=" + db}, "", "user", "delete", "--email", adminEmail)

		p = startServe(t, db, adminEnv)
		if code, _ := (api{t: t, base: p.URL}).call(http.MethodPost, "/api/v1/auth/login", `{"email":"`+adminEmail+`","password":"`+adminPassword+`"}`); code != http.StatusUnauthorized {
			t.Errorf("the deleted admin's login after a restart = %d, want 401: it was created again", code)
		}
		var cfg struct {
			FirstUserEmail *string `json:"firstUserEmail"`
		}
		api{t: t, base: p.URL}.json(http.MethodGet, "/api/v1/console/config", "", http.StatusOK, &cfg)
		if cfg.FirstUserEmail != nil {
			t.Errorf("console config names %q after the restart, want no first user", *cfg.FirstUserEmail)
		}
		p.stop()
		if out := p.output(); !strings.Contains(out, "not creating it again") {
			t.Errorf("the restart's output does not say why the admin was not created:\n%s", out)
		}
	})
}
