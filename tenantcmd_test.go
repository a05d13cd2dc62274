package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpShowsUsageOnceAndTenant: each help that concerns tenants prints
// its usage once (webhookd help tenant printed it twice) and tells how to
// make a key or member for a tenant (--tenant).
func TestHelpShowsUsageOnceAndTenant(t *testing.T) {
	for _, args := range [][]string{
		{"help"}, {"-h"}, {"help", "tenant"}, {"tenant", "-h"}, {"tenant", "create", "-h"},
		{"help", "apikey"}, {"apikey", "-h"}, {"apikey", "create", "-h"}, {"help", "user"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("run %v: %v", args, err)
			continue
		}
		if n := strings.Count(out.String(), "Usage"); n != 1 {
			t.Errorf("run %v printed Usage %d times, want once:\n%s", args, n, out.String())
		}
		if !strings.Contains(out.String(), "--tenant") {
			t.Errorf("run %v does not mention --tenant:\n%s", args, out.String())
		}
		if args[0] == "help" && len(args) == 1 || args[0] == "-h" {
			if !strings.Contains(out.String(), "apikey create --tenant T") {
				t.Errorf("run %v does not list apikey create --tenant:\n%s", args, out.String())
			}
		}
	}
}

// TestTenantCommandNeedsID: create and delete without --id (or with an
// empty one) say that --id is required, before touching any database.
func TestTenantCommandNeedsID(t *testing.T) {
	db := filepath.Join(t.TempDir(), "webhookd.db")
	for _, args := range [][]string{
		{"tenant", "delete", "--db", db}, {"tenant", "create", "--db", db}, {"tenant", "delete", "--id", "", "--db", db},
	} {
		err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "--id is required") {
			t.Errorf("run %v: %v, want an error saying --id is required", args, err)
		}
	}
	err := run(context.Background(), []string{"tenant", "delete", "--id", "-bad", "--db", db}, func(string) string { return "" }, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--id \"-bad\" must match") {
		t.Errorf("tenant delete --id -bad: %v, want an error naming the pattern", err)
	}
}
