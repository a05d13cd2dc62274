package store_test

import (
	"strings"
	"testing"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/store"
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
		if got := store.MatchPattern(tt.pattern, tt.eventType); got != tt.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tt.pattern, tt.eventType, got, tt.want)
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
	c, _ := catalog.New()
	f.Fuzz(func(t *testing.T, pattern, eventType string) {
		if !store.MatchPattern("*", eventType) {
			t.Fatalf("* did not match %q", eventType)
		}
		if !store.MatchPattern(eventType, eventType) {
			t.Fatalf("%q did not match itself", eventType)
		}
		if c.ValidatePattern(pattern) == nil {
			matched := false
			for _, typ := range c.Types() {
				matched = matched || store.MatchPattern(pattern, typ)
			}
			if !matched {
				t.Fatalf("valid pattern %q matches no catalogue type", pattern)
			}
		}
		if strings.HasSuffix(pattern, ".*") && store.MatchPattern(pattern, eventType) && !strings.HasPrefix(eventType, strings.TrimSuffix(pattern, "*")) {
			t.Fatalf("%q matched %q without the prefix", pattern, eventType)
		}
	})
}
