package main

import "testing"

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"64MiB": 64 << 20, "64mib": 64 << 20, "4 MiB": 4 << 20, "1048576": 1 << 20, "500MB": 500_000_000,
		"2GiB": 2 << 30, "10KB": 10_000, "3KiB": 3 << 10, "7B": 7, "0": 0,
	} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "1.5MiB", "64XB", "99999999999GiB"} {
		if got, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", in, got)
		}
	}
	var b byteSize = 64 << 20
	if s := b.String(); s != "64MiB" {
		t.Errorf("String() = %q, want 64MiB", s)
	}
}
