package main

// webhookd bench: the load generator of package bench, driving either a
// running webhookd (--target) or an app started in this process on a
// listener bench opens itself.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the outbox benchmark's CRM connection
	"golang.org/x/term"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/bench"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
)

// benchOptions are webhookd bench's flags: the load (bench.Config) and
// how to run the webhookd under it.
type benchOptions struct {
	load                      bench.Config
	db, target, retrySchedule string
	filter                    string
	workers, perWebhook       int
	cpuProfile, memProfile    string
	validateEvents            bool
	outbox                    bool
	baseline                  bool
}

// benchFlags returns bench's flags, bound to options that hold their
// defaults until they are parsed.
func benchFlags() (*flagSet, *benchOptions) {
	o := &benchOptions{}
	cfg := &o.load
	fs := newFlagSet("bench", `Usage: webhookd bench [flags]

Starts a webhookd in this process on a temporary SQLite database (or --db),
and a local receiver; creates --webhooks webhooks, publishes --events events
from --concurrency publishers, waits until every delivery has arrived and
prints throughput, latency, CPU and memory. With --duration and --rate it
publishes at a steady rate instead and reports latency under that load.
With --target and --token it drives an already running webhookd (which must
allow private targets, since the receiver listens on 127.0.0.1), and reports
that process's own CPU (--target-pid, found by itself for a loopback target).
With --baseline it first measures the floor: the same load against a bare Go
server that forwards each event, signed, to the receiver (no webhookd), and
prints the deliveries per second as a percentage of it.`)

	fs.IntVar(&cfg.Events, "events", 20000, "events to publish")
	fs.IntVar(&cfg.Webhooks, "webhooks", 1, "webhooks, each subscribed to every event (with --tenants: webhooks of each tenant)")
	fs.IntVar(&cfg.Tenants, "tenants", 0, "spread the events over this many tenants with --webhooks webhooks each, webhook i subscribed to one of five event types and the events mixing them, so that an event reaches its tenant's webhooks of its type (with --target, --token must be a service key; 0: one owner, every webhook subscribed to every event)")
	fs.IntVar(&cfg.Backlog, "backlog", 0, "publish this many events (instead of --events) while the receiver holds every request, then let it answer and time the draining of the backlog")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "concurrent publishers")
	fs.IntVar(&cfg.PayloadSize, "payload-bytes", 256, "approximate size of each event's data")
	fs.IntVar(&cfg.Batch, "batch", 1, "events per publish request: above 1, they go through POST /api/v1/events/batch (at most 1000)")
	fs.DurationVar(&cfg.ReceiverDelay, "receiver-delay", 0, "how long the receiver takes to answer")
	fs.StringVar(&cfg.Ordering, "ordering", "none", `the webhooks' ordering: "none" or "fifo"`)
	fs.IntVar(&cfg.OrderingKeys, "ordering-keys", 0, "with --ordering fifo: spread the events over this many ordering keys (0: one queue)")
	fs.Float64Var(&cfg.ReceiverFailRate, "receiver-fail-rate", 0, "share of requests the receiver answers 500 (0 to 1)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "steady mode: publish at --rate for this long")
	fs.IntVar(&cfg.Rate, "rate", 0, "steady mode: events per second")
	fs.DurationVar(&cfg.Wait, "wait", 10*time.Minute, "how long to wait for deliveries after publishing")
	fs.StringVar(&o.filter, "filter", "", "a payload filter (JSON) set on every webhook; it must match the bench's events (message.new, data {\"seq\": n, \"pad\": \"x…\"})")
	fs.StringVar(&o.target, "target", "", "URL of a running webhookd to drive instead of starting one")
	fs.StringVar(&cfg.Token, "token", "", "with --target: an access token or API key")
	fs.IntVar(&cfg.TargetPID, "target-pid", 0, "with --target: the webhookd's process id, whose CPU per 1,000 deliveries is reported from /proc/<pid>/stat (default: the process listening on a loopback --target's port, when it can be found)")
	fs.BoolVar(&o.baseline, "baseline", false, "first measure the floor (the same publishers and receiver with a bare Go server in webhookd's place, two exchanges per event) and report deliveries per second as a percentage of it")
	fs.StringVar(&o.db, "db", "", "database for the in-process webhookd (default: a temporary SQLite file)")
	fs.StringVar(&o.retrySchedule, "retry-schedule", "100ms,200ms,400ms,800ms,1s,2s,5s", "retry schedule of the in-process webhookd")
	fs.IntVar(&o.workers, "workers", 256, "--workers of the in-process webhookd")
	fs.BoolVar(&o.validateEvents, "validate-events", true, "--validate-events of the in-process webhookd: check each event's data against its type's schema")
	fs.IntVar(&o.perWebhook, "max-in-flight-per-webhook", 64, "--max-in-flight-per-webhook of the in-process webhookd")
	fs.BoolVar(&o.outbox, "outbox", false, "publish through the transactional outbox (needs --db postgres://…): commit every event as a webhook_outbox row at once and time the consumer turning them into events, or with --duration and --rate commit one row per transaction at that rate and report outbox-to-arrival latency")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for go tool pprof)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the whole run to this file (go tool pprof -sample_index=alloc_space)")
	return fs, o
}

// runBench is webhookd bench: it measures a webhookd under load and
// prints the report.
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, o := benchFlags()
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	stopProfiles, err := startProfiles(o.cpuProfile, o.memProfile, stderr)
	defer stopProfiles()
	if err != nil {
		return err
	}
	cfg := o.load
	if cfg.ReceiverFailRate < 0 || cfg.ReceiverFailRate >= 1 {
		return errors.New("bench: --receiver-fail-rate must be at least 0 and below 1")
	}
	if cfg.Batch < 1 || cfg.Batch > server.MaxBatchEvents {
		return fmt.Errorf("bench: --batch must be 1 to %d", server.MaxBatchEvents)
	}
	if o.filter != "" {
		if !json.Valid([]byte(o.filter)) {
			return errors.New("bench: --filter must be a JSON object, such as '{\"event\": \"message.new\"}'")
		}
		cfg.Filter = json.RawMessage(o.filter)
	}
	cfg.Progress = stderr
	if o.baseline && (cfg.Duration > 0 || o.outbox || cfg.ReceiverFailRate > 0 || cfg.Backlog > 0) {
		return errors.New("bench: --baseline measures throughput through the API with a receiver that never fails nor holds: drop --duration, --outbox, --receiver-fail-rate and --backlog")
	}
	if cfg.TargetPID != 0 && o.target == "" {
		return errors.New("bench: --target-pid needs --target: in process, webhookd's CPU is the bench's own")
	}
	if cfg.TargetPID < 0 {
		return errors.New("bench: --target-pid must be a process id")
	}
	if o.outbox {
		if o.target != "" {
			return errors.New("bench: --outbox runs webhookd in this process: drop --target")
		}
		if kind, _, err := store.ParseTarget(o.db); err != nil || kind != store.Postgres {
			return errors.New("bench: --outbox needs --db postgres://…: the outbox is PostgreSQL only")
		}
	}
	// The bar redraws one line with \r: only a terminal shows that as a
	// bar; a log or a pipe would get one long line of redraws.
	if f, ok := stderr.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) {
		cfg.ProgressBar = true
	}
	fmt.Fprintf(stdout, "machine: %d CPUs, %s/%s, %s\ncommand: webhookd bench %s\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), strings.Join(args, " "))

	if o.target != "" {
		if cfg.Token == "" {
			return errors.New("bench: --target needs --token")
		}
		if cfg.TargetPID > 0 {
			if _, err := bench.ProcessCPU(cfg.TargetPID); err != nil {
				return err
			}
		} else if pid, err := bench.FindListener(o.target); err == nil {
			cfg.TargetPID = pid
		} else {
			fmt.Fprintf(stderr, "%v; webhookd's own CPU is not reported\n", err)
		}
	}
	var floor *bench.Floor
	if o.baseline {
		fmt.Fprintln(stderr, "floor: a bare Go server in webhookd's place")
		f, err := bench.RunFloor(ctx, cfg)
		if err != nil {
			return err
		}
		floor = &f
		fmt.Fprintln(stderr, "webhookd:")
	}
	if o.target == "" {
		return benchInProcess(ctx, cfg, o, floor, stdout, stderr)
	}
	cfg.BaseURL = o.target
	r, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	r.Floor = floor
	r.Print(stdout)
	return nil
}

// startProfiles starts the profiles asked for. stop ends them (the
// allocation profile is written then, so that it covers the whole run);
// call it even when err is not nil, for the profiles started before it.
func startProfiles(cpuPath, memPath string, stderr io.Writer) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if memPath != "" {
		f, err := os.Create(memPath)
		if err != nil {
			return stop, fmt.Errorf("bench: %w", err)
		}
		stops = append(stops, func() {
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintf(stderr, "bench: write memory profile: %v\n", err)
			}
			f.Close()
		})
	}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return stop, fmt.Errorf("bench: %w", err)
		}
		stops = append(stops, func() { f.Close() })
		if err := pprof.StartCPUProfile(f); err != nil {
			return stop, fmt.Errorf("bench: %w", err)
		}
		stops = append(stops, pprof.StopCPUProfile)
	}
	return stop, nil
}

// benchInProcess runs the load against an app in this process, on a
// temporary SQLite database unless --db names one. bench opens the app's
// listener itself, on a port the kernel picks, and hands it over: there
// is no moment when the port is free for another process to take, and
// connections made before the app serves wait in the listen backlog.
func benchInProcess(ctx context.Context, cfg bench.Config, o *benchOptions, floor *bench.Floor, stdout, stderr io.Writer) error {
	db := o.db
	if db == "" {
		dir, err := os.MkdirTemp("", "webhookd-bench-")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
		db = filepath.Join(dir, "bench.db")
	}
	c, err := benchServeConfig(db, o)
	if err != nil {
		return err
	}
	cfg.Email, cfg.Password = "bench@webhookd.local", auth.RandomSecret(18)
	tenant, err := benchUser(ctx, db, cfg.Email, cfg.Password)
	if err != nil {
		return err
	}
	if cfg.Tenants > 0 {
		// Tenants are created, and published for, through a service key.
		if cfg.Token, err = benchServiceKey(ctx, db); err != nil {
			return err
		}
	}
	if o.outbox {
		ob, err := openBenchOutbox(db, tenant)
		if err != nil {
			return err
		}
		defer ob.db.Close()
		cfg.Outbox = ob
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	c.addr = ln.Addr().String()
	a, err := newApp(ctx, c, ln, c.newLogger(stderr), io.Discard)
	if err != nil {
		return err
	}
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	serveDone := make(chan error, 1)
	go func() { serveDone <- a.Run(serveCtx) }()
	cfg.BaseURL = "http://" + c.addr
	r, runErr := bench.Run(ctx, cfg)
	stopServe()
	if err := <-serveDone; err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	r.InProcess, r.Floor = true, floor
	r.Print(stdout)
	return nil
}

// benchServeConfig is the configuration of the benchmarked webhookd:
// serve's defaults, not its environment, with bench's flags and the
// limits a benchmark would hit lifted.
func benchServeConfig(db string, o *benchOptions) (*serveConfig, error) {
	_, c := serveFlags()
	c.db = db
	c.allowPrivate = true // the receiver listens on 127.0.0.1
	c.logLevel = "error"
	c.retrySchedule = o.retrySchedule
	c.retention = 0
	c.loginMaxFailures = 0
	c.workers, c.perWebhook = o.workers, o.perWebhook
	c.validateEvents = o.validateEvents
	// --webhooks may ask for more than one owner's default allowance.
	c.maxWebhooksPerOwner, c.maxDeliveriesPerRequest = 0, 0
	c.outbox = o.outbox
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// benchUser makes sure the benchmark's user exists with password and
// returns its tenant.
func benchUser(ctx context.Context, db, email, password string) (string, error) {
	st, err := store.Open(ctx, db)
	if err != nil {
		return "", err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return "", err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return "", err
	}
	u, err := st.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		u, err = st.CreateUser(ctx, email, hash, "")
		return u.TenantID, err
	case err != nil:
		return "", err
	default:
		return u.TenantID, st.SetPassword(ctx, u.ID, hash)
	}
}

// benchServiceKey creates a service API key for a multi-tenant run and
// returns it.
func benchServiceKey(ctx context.Context, db string) (string, error) {
	st, err := store.Open(ctx, db)
	if err != nil {
		return "", err
	}
	defer st.Close()
	key, hash, prefix, err := auth.NewAPIKey()
	if err != nil {
		return "", err
	}
	if _, err := st.CreateAPIKey(ctx, store.NewAPIKey{Service: true, Name: "webhookd bench", KeyHash: hash, Prefix: prefix}); err != nil {
		return "", fmt.Errorf("bench: create a service key: %w", err)
	}
	return key, nil
}

// benchOutbox is webhook_outbox as the benchmark's CRM writes it: rows of
// the benchmark user's tenant, over a connection of its own.
type benchOutbox struct {
	db     *sql.DB
	tenant string
	// left is the smallest id Drained last saw: no smaller one is left.
	left int64
}

func openBenchOutbox(dsn, tenant string) (*benchOutbox, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: open the outbox connection: %w", err)
	}
	return &benchOutbox{db: db, tenant: tenant}, nil
}

// Insert implements bench.Outbox: one statement, one transaction.
func (o *benchOutbox) Insert(ctx context.Context, datas []string) error {
	_, err := o.db.ExecContext(ctx, `INSERT INTO webhook_outbox (tenant, event, data)
		SELECT $1, 'message.new', d::jsonb FROM unnest($2::text[]) AS d`, o.tenant, datas)
	return err
}

// Drained implements bench.Outbox. It reads the smallest id left,
// through the primary key's index from the smallest id it saw last time:
// the consumer takes rows in id order and deleted rows do not come back,
// so each look walks past only the index entries of the rows consumed
// since the last one. A count, or min(id) from the start, would walk past
// every consumed row each time: their index entries stay until a vacuum,
// and no vacuum can remove them while another session's transaction is
// older than their deletion.
func (o *benchOutbox) Drained(ctx context.Context) (bool, error) {
	var first sql.NullInt64
	if err := o.db.QueryRowContext(ctx, `SELECT min(id) FROM webhook_outbox WHERE id >= $1`, o.left).Scan(&first); err != nil {
		return false, err
	}
	if !first.Valid {
		return true, nil
	}
	o.left = first.Int64
	return false, nil
}

// Waiting implements bench.Outbox.
func (o *benchOutbox) Waiting(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_outbox`).Scan(&n)
	return n, err
}
