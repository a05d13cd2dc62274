package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestE2EEventCatalog runs the binary with a catalogue file: a bad one
// stops serve with one line naming the file and the type; a good one is
// served by GET /api/v1/event-types and enforced on publish, unless
// WEBHOOKD_VALIDATE_EVENTS=false.
func TestE2EEventCatalog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("catalog.json", `{"types": {"order.paid": {"description": "An order was paid.",
		"schema": {"type": "object", "required": ["orderId", "contact"], "properties": {"orderId": {"type": "string"},
			"contact": {"type": "object", "required": ["phone"], "properties": {"phone": {"type": "string"}}}}},
		"examples": [{"orderId": "ord_1", "contact": {"phone": "+33612345678"}}]}}}`)
	bad := write("bad.json", `{"types": {"order.paid": {"schema": {"type": "object", "required": ["orderId"]}, "examples": [{"order": 1}]}}}`)

	r := webhookd(t, adminEnv, "", "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "bad.db"), "--event-catalog", bad)
	want := `webhookd: --event-catalog ` + bad + `: type "order.paid": examples[0] does not match the schema: /orderId: is required`
	if r.code == 0 || strings.TrimSpace(r.stderr) != want {
		t.Errorf("%s\nwant a failed start and exactly this on stderr:\n%s", r, want)
	}

	storetest.EachTarget(t, func(t *testing.T, db string) {
		p := startServe(t, db, append(slices.Clone(adminEnv), "WEBHOOKD_EVENT_CATALOG="+good))
		a := api{t: t, base: p.URL, token: login(t, p.URL, adminEmail, adminPassword)}
		var types struct {
			Data  []string `json:"data"`
			Types []struct {
				Name     string            `json:"name"`
				Examples []json.RawMessage `json:"examples"`
			} `json:"types"`
		}
		a.json(http.MethodGet, "/api/v1/event-types", "", http.StatusOK, &types)
		if n := len(types.Types); n == 0 || types.Types[n-1].Name != "order.paid" || types.Data[len(types.Data)-1] != "order.paid" ||
			string(types.Types[n-1].Examples[0]) != `{"orderId":"ord_1","contact":{"phone":"+33612345678"}}` {
			t.Errorf("event types %+v, want order.paid last with its example", types)
		}
		var e wiretest.Error
		a.json(http.MethodPost, "/api/v1/events/batch", `{"events":[{"event":"order.paid","data":{"orderId":"ord_2","contact":{"phone":"+1"}}},{"event":"order.paid","data":{"orderId":2,"contact":{}}}]}`,
			http.StatusBadRequest, &e)
		if m, ok := e.Detail("events[1].data/contact/phone"); !ok || m != "is required" {
			t.Errorf("batch answer %+v, want events[1].data/contact/phone: is required", e)
		}
		if _, ok := e.Detail("events[1].data/orderId"); !ok {
			t.Errorf("batch answer %+v, want events[1].data/orderId named", e)
		}
		a.json(http.MethodPost, "/api/v1/events", `{"event":"order.paid","data":{"orderId":"ord_2","contact":{"phone":"+1"}}}`, http.StatusAccepted, nil)
		p.stop()

		// The same database without validation accepts what was refused.
		p = startServe(t, db, append(slices.Clone(adminEnv), "WEBHOOKD_EVENT_CATALOG="+good, "WEBHOOKD_VALIDATE_EVENTS=false"))
		a = api{t: t, base: p.URL, token: login(t, p.URL, adminEmail, adminPassword)}
		a.json(http.MethodPost, "/api/v1/events", `{"event":"order.paid","data":{"orderId":2}}`, http.StatusAccepted, nil)
	})
}
