package main

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// serveVariables is every environment variable webhookd serve reads: one
// per flag, and the two that choose the first user.
func serveVariables() map[string]bool {
	fs, _ := serveFlags()
	vars := map[string]bool{"WEBHOOKD_ADMIN_EMAIL": true, "WEBHOOKD_ADMIN_PASSWORD": true}
	for _, v := range fs.env {
		vars[v] = true
	}
	return vars
}

// composeServices reads deploy/compose.yaml's services and, for each, the
// keys of its environment map. It knows only the layout that file is
// written in (two-space indents, environment as a map), and fails on
// anything else rather than guess; CI also parses the file as YAML
// (.ci/container-check).
func composeServices(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	services := map[string][]string{}
	section, service, inEnv := "", "", false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 0:
			section, service, inEnv = strings.TrimSuffix(trimmed, ":"), "", false
		case section != "services":
		case indent == 2:
			if !strings.HasSuffix(trimmed, ":") {
				t.Fatalf("%s:%d: want a service name, got %q", path, n, line)
			}
			service, inEnv = strings.TrimSuffix(trimmed, ":"), false
			services[service] = []string{}
		case indent == 4:
			inEnv = trimmed == "environment:"
		case indent == 6 && inEnv:
			key, _, ok := strings.Cut(trimmed, ":")
			if !ok || strings.HasPrefix(trimmed, "-") {
				t.Fatalf("%s:%d: want KEY: value in environment, got %q", path, n, line)
			}
			services[service] = append(services[service], key)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return services
}

// Issue 19: deploy/compose.yaml runs webhookd beside a CRM and PostgreSQL,
// and sets webhookd only variables serve reads (a misspelt one is silently
// ignored by serve).
func TestDeployComposeUsesServeVariables(t *testing.T) {
	services := composeServices(t, "deploy/compose.yaml")
	for _, name := range []string{"webhookd", "postgres", "crm"} {
		if _, ok := services[name]; !ok {
			t.Errorf("deploy/compose.yaml has no service %q (has %v)", name, services)
		}
	}
	vars := serveVariables()
	env := services["webhookd"]
	for _, key := range env {
		if !vars[key] {
			t.Errorf("deploy/compose.yaml sets %s for webhookd, which serve does not read", key)
		}
	}
	for _, key := range []string{"WEBHOOKD_DB", "WEBHOOKD_ADMIN_EMAIL", "WEBHOOKD_ADMIN_PASSWORD"} {
		if !slices.Contains(env, key) {
			t.Errorf("deploy/compose.yaml does not set %s for webhookd (sets %v)", key, env)
		}
	}
}

// unitSettings reads a systemd unit's Key=Value lines, each key's values
// in order.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: want Key=Value, got %q", path, line)
		}
		settings[key] = append(settings[key], value)
	}
	return settings
}

// Issue 19: deploy/webhookd.service starts serve with flags serve takes
// and valid values, keeps the database in its StateDirectory, and
// sandboxes the process. systemd-analyze verify checks the rest in CI.
func TestDeploySystemdUnit(t *testing.T) {
	s := unitSettings(t, "deploy/webhookd.service")
	exec := s["ExecStart"]
	if len(exec) != 1 {
		t.Fatalf("ExecStart = %q, want one", exec)
	}
	args := strings.Fields(exec[0])
	if len(args) < 2 || args[0] != "/usr/local/bin/webhookd" || args[1] != "serve" {
		t.Fatalf("ExecStart = %q, want /usr/local/bin/webhookd serve …", exec[0])
	}
	fs, c := serveFlags()
	if err := fs.parse(args[2:], func(string) string { return "" }); err != nil {
		t.Fatalf("ExecStart %q: serve refuses its flags: %v", exec[0], err)
	}
	if fs.NArg() > 0 {
		t.Fatalf("ExecStart %q: serve refuses argument %q", exec[0], fs.Arg(0))
	}
	if err := c.validate(); err != nil {
		t.Fatalf("ExecStart %q: %v", exec[0], err)
	}
	if c.db != "/var/lib/webhookd/webhookd.db" {
		t.Errorf("ExecStart --db %q, want /var/lib/webhookd/webhookd.db (the StateDirectory)", c.db)
	}
	want := map[string]string{
		"StateDirectory":   "webhookd",
		"WorkingDirectory": "/var/lib/webhookd",
		"ProtectSystem":    "strict",
		"ProtectHome":      "yes",
		"NoNewPrivileges":  "yes",
		"PrivateTmp":       "yes",
	}
	for key, value := range want {
		if got := s[key]; !slices.Equal(got, []string{value}) {
			t.Errorf("%s = %q, want %s", key, got, value)
		}
	}
	if !slices.Equal(s["DynamicUser"], []string{"yes"}) && len(s["User"]) == 0 {
		t.Errorf("neither DynamicUser=yes nor User=: the service would run as root")
	}
	if len(s["RestrictAddressFamilies"]) == 0 {
		t.Errorf("no RestrictAddressFamilies")
	}
}

// Issue 19: the Containerfile's ENV are variables serve reads, and its
// HEALTHCHECK and ENTRYPOINT run this binary's commands.
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continued lines, drop comments.
	var lines []string
	cont := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		lines = append(lines, strings.Join(strings.Fields(cont+line), " "))
		cont = ""
	}
	instr := map[string][]string{}
	for _, line := range lines {
		if op, rest, ok := strings.Cut(line, " "); ok {
			instr[op] = append(instr[op], rest)
		}
	}
	vars := serveVariables()
	for _, env := range instr["ENV"] {
		for _, kv := range strings.Fields(env) {
			key, _, _ := strings.Cut(kv, "=")
			if !vars[key] {
				t.Errorf("Containerfile sets ENV %s, which serve does not read", key)
			}
		}
	}
	checks := []struct{ op, want string }{
		{"FROM", "scratch"},
		{"USER", "10001:10001"},
		{"WORKDIR", "/data"},
		{"VOLUME", "/data"},
		{"EXPOSE", "3000"},
		{"ENTRYPOINT", `["/webhookd"]`},
		{"CMD", `["serve"]`},
	}
	for _, c := range checks {
		if got := instr[c.op]; !slices.Equal(got, []string{c.want}) {
			t.Errorf("Containerfile %s = %q, want %s", c.op, got, c.want)
		}
	}
	if hc := instr["HEALTHCHECK"]; len(hc) != 1 || !strings.HasSuffix(hc[0], `CMD ["/webhookd", "healthcheck"]`) {
		t.Errorf("Containerfile HEALTHCHECK = %q, want … CMD [\"/webhookd\", \"healthcheck\"]", hc)
	}
}
