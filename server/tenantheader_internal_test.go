package server

import (
	"net/http"
	"testing"
)

// TestMisspeltTenantHeader: the headers a CRM developer might send for
// Webhookd-Tenant are named back to them; the right one and unrelated
// headers are not.
func TestMisspeltTenantHeader(t *testing.T) {
	for _, c := range []struct {
		headers []string
		want    string
	}{
		{[]string{"Webhookd-Tenent"}, "Webhookd-Tenent"},
		{[]string{"X-Webhookd-Tenant"}, "X-Webhookd-Tenant"},
		{[]string{"Tenant"}, "Tenant"},
		{[]string{"X-Tenant-Id"}, "X-Tenant-Id"},
		{[]string{"Webhook-Tenant"}, "Webhook-Tenant"},
		{[]string{"Webhookdtenant"}, "Webhookdtenant"},
		{[]string{"Tennant"}, "Tennant"},
		{[]string{"Webhookd-Tenant"}, ""},
		{[]string{"Content-Type", "Accept", "Authorization", "Idempotency-Key", "User-Agent", "Intent", "Content-Length"}, ""},
		{[]string{"Accept", "Tenant", "X-Tenant"}, "Tenant"}, // the first by name
	} {
		h := http.Header{}
		for _, name := range c.headers {
			h.Set(name, "acme")
		}
		if got := misspeltTenantHeader(h); got != c.want {
			t.Errorf("misspeltTenantHeader(%v) = %q, want %q", c.headers, got, c.want)
		}
	}
}
