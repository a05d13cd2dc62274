package catalog

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
)

func TestValidatePattern(t *testing.T) {
	c, err := New("custom.thing")
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{"*", "message.new", "message.*", "conversation.*", "custom.thing", "custom.*"} {
		if err := c.ValidatePattern(ok); err != nil {
			t.Errorf("ValidatePattern(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "nope", "message", "message.**", "*.new", "x.*", "message.new ", "MESSAGE.NEW", "m*.*"} {
		err := c.ValidatePattern(bad)
		if err == nil {
			t.Errorf("ValidatePattern(%q) = nil, want an error", bad)
			continue
		}
		if !strings.Contains(err.Error(), quote(bad)) {
			t.Errorf("ValidatePattern(%q) = %q, want the entry named", bad, err)
		}
	}
}

func quote(s string) string { return `"` + s + `"` }

func TestNew(t *testing.T) {
	c, err := New(" custom.a ", "", "message.new", "custom.b")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Types(), ",")
	want := strings.Join(append(append([]string{}, Default...), "custom.a", "custom.b"), ",")
	if got != want {
		t.Errorf("Types() = %s, want %s", got, want)
	}
	for _, bad := range []string{"*", "a.*", "Upper.case", "a..b", "a b", strings.Repeat("a", MaxTypeLength+1)} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q) = nil error, want one", bad)
		}
	}
}

// TestReservedTypesAreInTheDefaults keeps the reserved types listed in the
// catalogue, where webhooks subscribe to them.
func TestReservedTypesAreInTheDefaults(t *testing.T) {
	for _, r := range Reserved {
		if !slices.Contains(Default, r) || !IsReserved(r) {
			t.Errorf("reserved type %q: in Default %v, IsReserved %v; want both", r, slices.Contains(Default, r), IsReserved(r))
		}
	}
	if IsReserved("webhook.test") || IsReserved("message.new") {
		t.Error("IsReserved reports a type anyone may send")
	}
}

// TestWebhookDisabledPayload pins the bytes receivers of webhook.disabled
// get: the keys sorted, the time in the wire layout.
func TestWebhookDisabledPayload(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC)
	got, err := WebhookDisabledPayload(store.DisabledWebhook{ID: "w1", Name: "n<1>", URL: "https://x.io/h", Reason: "gone", DisabledAt: at})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"disabledAt":"2024-01-02T03:04:05.006Z","name":"n\u003c1\u003e","reason":"gone","url":"https://x.io/h","webhookId":"w1"}`
	if string(got) != want {
		t.Errorf("payload = %s, want %s", got, want)
	}
}
