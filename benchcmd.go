package main

// webhookd bench: the load generator of package bench, driving either a
// running webhookd (--target) or one started in this process.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/bench"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
)

func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", `Usage: webhookd bench [flags]

Starts a webhookd in this process on a temporary SQLite database (or --db),
and a local receiver; creates --webhooks webhooks, publishes --events events
from --concurrency publishers, waits until every delivery has arrived and
prints throughput, latency, CPU and memory. With --duration and --rate it
publishes at a steady rate instead and reports latency under that load.
With --target and --token it drives an already running webhookd (which must
allow private targets, since the receiver listens on 127.0.0.1).`)
	var cfg bench.Config
	var db, target, retrySchedule string
	var workers, perWebhook int
	fs.IntVar(&cfg.Events, "events", 20000, "events to publish")
	fs.IntVar(&cfg.Webhooks, "webhooks", 1, "webhooks, each subscribed to every event")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "concurrent publishers")
	fs.IntVar(&cfg.PayloadSize, "payload-bytes", 256, "approximate size of each event's data")
	fs.IntVar(&cfg.Batch, "batch", 1, "events per publish request: above 1, they go through POST /api/v1/events/batch (at most 1000)")
	fs.DurationVar(&cfg.ReceiverDelay, "receiver-delay", 0, "how long the receiver takes to answer")
	fs.Float64Var(&cfg.ReceiverFailRate, "receiver-fail-rate", 0, "share of requests the receiver answers 500 (0 to 1)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "steady mode: publish at --rate for this long")
	fs.IntVar(&cfg.Rate, "rate", 0, "steady mode: events per second")
	fs.DurationVar(&cfg.Wait, "wait", 10*time.Minute, "how long to wait for deliveries after publishing")
	fs.StringVar(&target, "target", "", "URL of a running webhookd to drive instead of starting one")
	fs.StringVar(&cfg.Token, "token", "", "with --target: an access token or API key")
	fs.StringVar(&db, "db", "", "database for the in-process webhookd (default: a temporary SQLite file)")
	fs.StringVar(&retrySchedule, "retry-schedule", "100ms,200ms,400ms,800ms,1s,2s,5s", "retry schedule of the in-process webhookd")
	fs.IntVar(&workers, "workers", 256, "--workers of the in-process webhookd")
	fs.IntVar(&perWebhook, "max-in-flight-per-webhook", 64, "--max-in-flight-per-webhook of the in-process webhookd")
	var cpuProfile, memProfile string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for go tool pprof)")
	fs.StringVar(&memProfile, "memprofile", "", "write an allocation profile of the whole run to this file (go tool pprof -sample_index=alloc_space)")
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer func() {
			// Written when the run is over, so it covers all of it.
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintf(stderr, "bench: write memory profile: %v\n", err)
			}
			f.Close()
		}()
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.ReceiverFailRate < 0 || cfg.ReceiverFailRate >= 1 {
		return errors.New("bench: --receiver-fail-rate must be at least 0 and below 1")
	}
	if cfg.Batch < 1 || cfg.Batch > server.MaxBatchEvents {
		return fmt.Errorf("bench: --batch must be 1 to %d", server.MaxBatchEvents)
	}
	cfg.Progress = stderr
	fmt.Fprintf(stdout, "machine: %d CPUs, %s/%s, %s\ncommand: webhookd bench %s\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), strings.Join(args, " "))

	if target != "" {
		if cfg.Token == "" {
			return errors.New("bench: --target needs --token")
		}
		cfg.BaseURL = target
		r, err := bench.Run(ctx, cfg)
		if err != nil {
			return err
		}
		r.Print(stdout)
		return nil
	}

	if db == "" {
		dir, err := os.MkdirTemp("", "webhookd-bench-")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
		db = filepath.Join(dir, "bench.db")
	}
	cfg.Email, cfg.Password = "bench@webhookd.local", auth.RandomSecret(18)
	if err := benchUser(ctx, db, cfg.Email, cfg.Password); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	serveArgs := []string{"--addr", addr, "--db", db, "--allow-private-targets", "--log-level", "error",
		"--retry-schedule", retrySchedule, "--retention", "0", "--login-max-failures", "0",
		"--workers", strconv.Itoa(workers), "--max-in-flight-per-webhook", strconv.Itoa(perWebhook),
		// --webhooks may ask for more than one owner's default allowance.
		"--max-webhooks-per-owner", "0", "--max-deliveries-per-request", "0"}
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	serveDone := make(chan error, 1)
	// Only the flags above configure the benchmarked webhookd.
	noEnv := func(string) string { return "" }
	go func() { serveDone <- runServe(serveCtx, serveArgs, noEnv, io.Discard, stderr) }()
	cfg.BaseURL = "http://" + addr
	if err := waitHealthy(ctx, cfg.BaseURL, serveDone); err != nil {
		return err
	}
	r, runErr := bench.Run(ctx, cfg)
	stopServe()
	if err := <-serveDone; err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	r.InProcess = true
	r.Print(stdout)
	return nil
}

// benchUser makes sure the benchmark's user exists with password.
func benchUser(ctx context.Context, db, email, password string) error {
	st, err := store.Open(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	u, err := st.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_, err = st.CreateUser(ctx, email, hash)
		return err
	case err != nil:
		return err
	default:
		return st.SetPassword(ctx, u.ID, hash)
	}
}

// waitHealthy polls /healthz until the in-process webhookd answers.
func waitHealthy(ctx context.Context, base string, serveDone <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-serveDone:
			return fmt.Errorf("bench: webhookd stopped: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("bench: webhookd did not become healthy within 30s")
}
