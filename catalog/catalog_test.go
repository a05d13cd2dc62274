package catalog

import (
	"slices"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, eventType string
		want               bool
	}{
		{"*", "message.new", true},
		{"message.new", "message.new", true},
		{"message.new", "message.newer", false},
		{"message.*", "message.new", true},
		{"message.*", "message.deleted.hard", true},
		{"message.*", "messages.new", false},
		{"message.*", "message", false},
		{"conversation.*", "message.new", false},
		{"mess*", "message.new", false},
		{"", "message.new", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.eventType); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.eventType, got, tt.want)
		}
	}
}

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

// FuzzMatch checks the matcher's invariants on arbitrary input: "*" matches
// everything, an exact pattern matches itself, and a pattern that validates
// against a catalogue matches at least one of its types.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"*", "message.*", "message.new", "a.b.*", ".*", "*.*", ""} {
		f.Add(s, "message.new")
	}
	c, _ := New()
	f.Fuzz(func(t *testing.T, pattern, eventType string) {
		if !Match("*", eventType) {
			t.Fatalf("* did not match %q", eventType)
		}
		if !Match(eventType, eventType) {
			t.Fatalf("%q did not match itself", eventType)
		}
		if c.ValidatePattern(pattern) == nil {
			matched := false
			for _, typ := range c.Types() {
				matched = matched || Match(pattern, typ)
			}
			if !matched {
				t.Fatalf("valid pattern %q matches no catalogue type", pattern)
			}
		}
		if strings.HasSuffix(pattern, ".*") && Match(pattern, eventType) && !strings.HasPrefix(eventType, strings.TrimSuffix(pattern, "*")) {
			t.Fatalf("%q matched %q without the prefix", pattern, eventType)
		}
	})
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
