package catalog

import (
	"slices"
	"strings"
	"testing"
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
