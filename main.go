// Command webhookd is an outgoing-webhooks service: users register webhooks
// for event types, the CRM publishes events, and webhookd durably fans each
// event out to every matching webhook, signs it, delivers it with retries
// and logs every attempt.
//
// main.go only wires: main runs run, and run picks the subcommand. Each
// subcommand lives in its own file: serve.go (flags and their validation)
// and app.go (building and running serve, shutting it down in order),
// admin.go (migrate, apikey, status), usercmd.go (user), tenantcmd.go (tenant), benchcmd.go
// (bench), healthcheck.go (healthcheck); flags.go holds the flag set every command parses with.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhookd:", err)
		os.Exit(1)
	}
}

const topUsage = `webhookd — outgoing webhooks for your CRM

Usage:
  webhookd [serve] [flags]                      run the API and the delivery engine (default)
  webhookd migrate up|down|status [flags]       manage the database schema
  webhookd user create|passwd|disable|enable|delete|unlock --email E
  webhookd user list [--tenant T]               manage users ('webhookd help user')
  webhookd tenant list|create|delete            manage tenants ('webhookd help tenant')
  webhookd status [--db D]                      one-screen summary of webhooks and the queue
  webhookd outbox dead                          list dead outbox rows and why (PostgreSQL)
  webhookd outbox requeue ID...|--all           move dead outbox rows back (PostgreSQL)
  webhookd bench [flags]                        measure throughput and latency end to end
  webhookd apikey create --email E --name N     create an API key for that user's tenant
  webhookd apikey create --tenant T --name N    create an API key for tenant T
  webhookd apikey create --service --name N     create a service key that acts for any tenant
  webhookd apikey list|revoke                   list keys, revoke one ('webhookd help apikey')
  webhookd healthcheck [--addr HOST:PORT]       exit 0 when a running serve answers /healthz
  webhookd version (or --version, -v)           print the version
  webhookd help [command]                       show help; every command also takes -h

Every flag can also be set with the environment variable shown by
'webhookd help COMMAND'. A flag on the command line wins over the variable.`

// isVersionFlag reports whether arg asks for the version the way other
// tools spell it.
func isVersionFlag(arg string) bool {
	switch arg {
	case "--version", "-version", "-v", "-V":
		return true
	}
	return false
}

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if isHelp(args) {
		fmt.Fprintln(stdout, topUsage)
		return flag.ErrHelp
	} else if len(args) == 1 && isVersionFlag(args[0]) {
		// Every tool answers --version; it is not a serve flag, so it
		// is taken here before serve's flag set would reject it.
		cmd, args = "version", nil
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, getenv, stdin, stdout, stderr)
	case "user":
		return runUser(ctx, args, getenv, stdin, stdout, stderr)
	case "apikey":
		return runAPIKey(ctx, args, getenv, stdout, stderr)
	case "tenant":
		return runTenant(ctx, args, getenv, stdout, stderr)
	case "outbox":
		return runOutbox(ctx, args, getenv, stdout, stderr)
	case "status":
		return runStatus(ctx, args, getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args, getenv, stdout)
	case "version":
		fmt.Fprintln(stdout, "webhookd", version)
		return nil
	case "help":
		if len(args) == 0 {
			fmt.Fprintln(stdout, topUsage)
			return nil
		}
		return run(ctx, append(args[:1:1], "-h"), getenv, stdin, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q; run 'webhookd help'", cmd)
	}
}
