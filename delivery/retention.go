package delivery

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/webhookd/webhookd/store"
)

// Retention prunes attempt logs, finished deliveries and their events once
// they are older than Keep.
type Retention struct {
	Store  *store.Store
	Keep   time.Duration // 0 keeps everything
	Logger *slog.Logger
	// Every is how often a pruning pass starts (default 10m).
	Every time.Duration
	// Batch bounds the rows one statement deletes (default 1000), and Pause
	// is the wait between statements (default 50ms): pruning takes the
	// writer in short turns so deliveries never queue behind it.
	Batch int
	Pause time.Duration
}

// Run prunes until ctx ends. With Keep 0 it still prunes stale login
// failures, which are never worth keeping.
func (r Retention) Run(ctx context.Context) {
	if r.Every <= 0 {
		r.Every = 10 * time.Minute
	}
	if r.Batch <= 0 {
		r.Batch = 1000
	}
	if r.Pause <= 0 {
		r.Pause = 50 * time.Millisecond
	}
	// The first pass waits a little, so a restart loop never prunes before
	// it serves.
	timer := time.NewTimer(time.Duration(rand.Float64() * float64(min(r.Every, time.Minute))))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		r.RunOnce(ctx)
		timer.Reset(time.Duration(float64(r.Every) * (0.9 + 0.2*rand.Float64())))
	}
}

// RunOnce makes one pruning pass and returns how many rows it deleted.
func (r Retention) RunOnce(ctx context.Context) int64 {
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Batch <= 0 {
		r.Batch = 1000
	}
	before := r.Store.Now().Add(-r.Keep)
	prune := func(ctx context.Context) (int64, error) { return r.Store.Prune(ctx, before, r.Batch) }
	if r.Keep == 0 {
		prune = func(ctx context.Context) (int64, error) { return r.Store.PruneLoginFailures(ctx, r.Batch) }
	}
	var total int64
	for ctx.Err() == nil {
		n, err := prune(ctx)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				r.Logger.Warn("retention: prune", "err", err)
			}
			break
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.Pause):
		}
	}
	if total > 0 {
		r.Logger.Info("retention: pruned old rows", "rows", total, "older_than", before.Format(time.RFC3339))
	}
	return total
}
