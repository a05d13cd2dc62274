package store

import "strings"

// A subscription pattern is an event type ("message.new"), "*" for every
// type, or a prefix wildcard ("message.*") that matches every type under
// that prefix. The store applies patterns when it fans an event out to the
// webhooks subscribed to it, so what a pattern selects is defined here,
// beside the fan-out that runs it; package catalog decides which patterns a
// webhook may hold.

// MatchPattern reports whether pattern p selects event type t.
func MatchPattern(p, t string) bool {
	if p == "*" || p == t {
		return true
	}
	if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasSuffix(prefix, ".") {
		return strings.HasPrefix(t, prefix)
	}
	return false
}

// MatchAnyPattern reports whether any of patterns selects t.
func MatchAnyPattern(patterns []string, t string) bool {
	for _, p := range patterns {
		if MatchPattern(p, t) {
			return true
		}
	}
	return false
}
