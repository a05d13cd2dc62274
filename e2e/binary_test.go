package e2e

import (
	"debug/elf"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBinaryIsStatic(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the ELF check runs on Linux")
	}
	f, err := elf.Open(binary(t))
	if err != nil {
		t.Fatalf("open the built binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has a PT_INTERP program header: it needs a dynamic loader, want a static binary")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("binary links %v, want no shared libraries", libs)
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	if got, want := mustWebhookd(t, nil, "", "version").stdout, "webhookd "+e2eVersion+"\n"; got != want {
		t.Errorf("webhookd version printed %q, want %q", got, want)
	}

	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := mustWebhookd(t, nil, "", args...)
		for _, cmd := range []string{"serve", "migrate up|down|status", "user create", "apikey create", "version", "help", "user create|passwd|disable|enable|delete|unlock", "healthcheck"} {
			if !strings.Contains(r.stdout, "webhookd "+cmd) && !strings.Contains(r.stdout, "webhookd ["+cmd) {
				t.Errorf("webhookd %s does not list %q:\n%s", strings.Join(args, " "), cmd, r.stdout)
			}
		}
	}

	// help serve names the variables that choose the first user, which
	// have no flags (new-user pass).
	if r := mustWebhookd(t, nil, "", "help", "serve"); !strings.Contains(r.stdout, "WEBHOOKD_ADMIN_EMAIL") || !strings.Contains(r.stdout, "WEBHOOKD_ADMIN_PASSWORD") {
		t.Errorf("webhookd help serve does not name WEBHOOKD_ADMIN_EMAIL and WEBHOOKD_ADMIN_PASSWORD:\n%s", r.stdout)
	}

	unknown := webhookd(t, nil, "", "frobnicate")
	if unknown.code == 0 || !strings.Contains(unknown.stderr, `unknown command "frobnicate"`) {
		t.Errorf("%s\nwant a non-zero exit naming the unknown command", unknown)
	}
}

// flagRow is one flag as a help text lists it.
type flagRow struct{ env, def string }

// helpFlags reads the flag table of a help text: --name ENV DEFAULT meaning.
func helpFlags(t testing.TB, help string) map[string]flagRow {
	t.Helper()
	rows := map[string]flagRow{}
	for _, m := range helpFlagLine.FindAllStringSubmatch(help, -1) {
		row := flagRow{env: m[2], def: m[3]}
		if row.env == "" {
			row.env = "-"
		}
		rows[m[1]] = row
	}
	if len(rows) == 0 {
		t.Fatalf("no flags in help text:\n%s", help)
	}
	return rows
}

// helpFlagLine is one flag of a command's help: "  --name", its
// variable if it has one, and its default if it is not the zero value.
var helpFlagLine = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)(?:  (WEBHOOKD_[A-Z0-9_]+))?(?:  \(default (.*)\))?$`)

// Issue 19: help fits a 100-column terminal.
func TestHelpFitsHundredColumns(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"", "serve", "migrate", "user", "user list", "apikey", "tenant", "outbox", "status", "bench", "healthcheck"} {
		args := append([]string{"help"}, strings.Fields(cmd)...)
		if cmd == "user list" {
			args = []string{"user", "list", "-h"}
		}
		r := mustWebhookd(t, nil, "", args...)
		for _, line := range strings.Split(r.stdout, "\n") {
			if n := utf8.RuneCountInString(line); n > 100 {
				t.Errorf("webhookd %s: a line of %d columns:\n%s", strings.Join(args, " "), n, line)
			}
		}
	}
}

func TestHelpListsFlagsWithEnvironmentAndDefaults(t *testing.T) {
	t.Parallel()
	// want is the documented configuration; def "" means any default.
	tests := []struct {
		cmd  string
		want map[string]flagRow
	}{
		{"serve", map[string]flagRow{
			"addr":             {"WEBHOOKD_ADDR", ":3000"},
			"db":               {"WEBHOOKD_DB", "webhookd.db"},
			"jwt-secret":       {"WEBHOOKD_JWT_SECRET", ""},
			"token-ttl":        {"WEBHOOKD_TOKEN_TTL", "24h"},
			"migrate":          {"WEBHOOKD_MIGRATE", "true"},
			"event-types":      {"WEBHOOKD_EVENT_TYPES", ""},
			"retry-schedule":   {"WEBHOOKD_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h"},
			"delivery-timeout": {"WEBHOOKD_DELIVERY_TIMEOUT", "30s"},
			"shutdown-grace":   {"WEBHOOKD_SHUTDOWN_GRACE", "10s"},
			// Issue 12 items 7, 8.
			"write-timeout":        {"WEBHOOKD_WRITE_TIMEOUT", "30s"},
			"max-connections":      {"WEBHOOKD_MAX_CONNECTIONS", "10000"},
			"max-streams":          {"WEBHOOKD_MAX_STREAMS", "1000"},
			"max-streams-per-user": {"WEBHOOKD_MAX_STREAMS_PER_USER", "10"},
			// Issue 15: the CRM's own tokens.
			"trusted-jwt-secret":    {"WEBHOOKD_TRUSTED_JWT_SECRET", ""},
			"trusted-jwks-url":      {"WEBHOOKD_TRUSTED_JWKS_URL", ""},
			"trusted-jwks-file":     {"WEBHOOKD_TRUSTED_JWKS_FILE", ""},
			"trusted-jwt-issuer":    {"WEBHOOKD_TRUSTED_JWT_ISSUER", ""},
			"trusted-jwt-audience":  {"WEBHOOKD_TRUSTED_JWT_AUDIENCE", ""},
			"trusted-tenant-claim":  {"WEBHOOKD_TRUSTED_TENANT_CLAIM", "tenant"},
			"trusted-subject-claim": {"WEBHOOKD_TRUSTED_SUBJECT_CLAIM", "sub"},
		}},
		{"migrate", map[string]flagRow{"db": {"WEBHOOKD_DB", "webhookd.db"}}},
		{"user", map[string]flagRow{"db": {"WEBHOOKD_DB", "webhookd.db"}, "email": {"-", ""}, "password": {"-", ""}}},
		{"apikey", map[string]flagRow{"db": {"WEBHOOKD_DB", "webhookd.db"}, "email": {"-", ""}, "name": {"-", ""}}},
	}
	for _, tt := range tests {
		for _, args := range [][]string{{"help", tt.cmd}, {tt.cmd, "-h"}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := mustWebhookd(t, nil, "", args...)
				got := helpFlags(t, r.stdout)
				for name, want := range tt.want {
					row, ok := got[name]
					switch {
					case !ok:
						t.Errorf("--%s missing from:\n%s", name, r.stdout)
					case row.env != want.env:
						t.Errorf("--%s environment = %q, want %q", name, row.env, want.env)
					case want.def != "" && row.def != want.def:
						t.Errorf("--%s default = %q, want %q", name, row.def, want.def)
					}
				}
				if tt.cmd != "serve" {
					return
				}
				// Every serve flag is configurable through the environment.
				for name, row := range got {
					if !strings.HasPrefix(row.env, "WEBHOOKD_") {
						t.Errorf("serve --%s has no environment variable (%q)", name, row.env)
					}
				}
			})
		}
	}
}
