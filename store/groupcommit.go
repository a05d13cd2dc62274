package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by a GroupCommitter after Close.
var ErrClosed = errors.New("store: closed")

// GroupCommitter publishes events from many concurrent callers in shared
// transactions: while one transaction commits, the requests that arrive
// queue up and go into the next one together. Each caller still returns
// only after its own events are committed, so durability is unchanged while
// the cost of a commit is spread over many events.
type GroupCommitter struct {
	s        *Store
	maxBatch int
	reqs     chan *publishRequest
	// handoff, when set, takes the deliveries its dispatcher can start at
	// once, leased as they are inserted (see Handoff).
	handoff Handoff
	// logger hears of a group that failed while its requests each
	// committed alone (see commit); nil: nobody.
	logger *slog.Logger
	// failGroup, set by tests, fails a group's transaction before it
	// starts, as a fault that only the shared transaction meets would.
	failGroup func() error
	// fallbacks counts the groups whose shared transaction failed, so
	// that each request was published alone.
	fallbacks atomic.Int64

	mu     sync.RWMutex
	closed bool
	done   chan struct{}
}

type publishRequest struct {
	batch []PublishParams
	reply chan publishReply
}

type publishReply struct {
	results []PublishResult
	err     error
}

// GroupOption configures a GroupCommitter.
type GroupOption func(*GroupCommitter)

// HandOffTo makes a GroupCommitter hand the deliveries of its publishes
// that h's dispatcher can start at once straight to it, leased as they are
// inserted, instead of leaving them for its next lease (see Handoff).
func HandOffTo(h Handoff) GroupOption { return func(g *GroupCommitter) { g.handoff = h } }

// LogGroupFailures makes a GroupCommitter warn on logger when a group's
// shared transaction fails although every one of its requests then
// commits alone. Nothing the requests sent explains such a failure, so it
// is a fault of the shared statements, and the committer has quietly
// fallen back to a transaction per request, at a fraction of the rate.
func LogGroupFailures(logger *slog.Logger) GroupOption {
	return func(g *GroupCommitter) { g.logger = logger }
}

// NewGroupCommitter starts a committer that puts at most maxBatch events in
// one transaction. Close stops it.
func (s *Store) NewGroupCommitter(maxBatch int, opts ...GroupOption) *GroupCommitter {
	if maxBatch < 1 {
		maxBatch = 1
	}
	g := &GroupCommitter{s: s, maxBatch: maxBatch, reqs: make(chan *publishRequest, maxBatch), done: make(chan struct{})}
	for _, o := range opts {
		o(g)
	}
	go g.loop()
	return g
}

// PublishEvents commits batch, sharing the transaction with concurrent
// callers, and returns once it is durable and its deliveries exist. A
// fan-out larger than FanOutChunk is finished here, in the caller's
// goroutine and in transactions of its own (see Store.PublishEvents), so
// the committer goes on committing other callers' events meanwhile.
func (g *GroupCommitter) PublishEvents(ctx context.Context, batch []PublishParams) ([]PublishResult, error) {
	req := &publishRequest{batch: batch, reply: make(chan publishReply, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case g.reqs <- req:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return nil, ctx.Err()
	}
	// Once queued the request is committed or failed whatever the caller
	// does, so wait for the answer: returning early would report failure
	// for events that may well be accepted.
	r := <-req.reply
	if r.err != nil {
		return nil, r.err
	}
	g.s.finishPending(ctx, r.results)
	return r.results, nil
}

// Close commits what is queued and stops the committer.
func (g *GroupCommitter) Close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.reqs)
	}
	g.mu.Unlock()
	<-g.done
}

func (g *GroupCommitter) loop() {
	defer close(g.done)
	var group []*publishRequest
	for req := range g.reqs {
		group = append(group[:0], req)
		n := len(req.batch)
	fill:
		for n < g.maxBatch {
			select {
			case more, ok := <-g.reqs:
				if !ok {
					break fill
				}
				group = append(group, more)
				n += len(more.batch)
			default:
				break fill
			}
		}
		g.commit(group)
	}
}

// commit publishes a group in one transaction; if that fails, each request
// is retried alone so that one bad request cannot fail its neighbours.
func (g *GroupCommitter) commit(group []*publishRequest) {
	ctx := context.Background()
	if len(group) == 1 {
		res, err := g.s.publishEvents(ctx, group[0].batch, g.handoff)
		group[0].reply <- publishReply{res, err}
		return
	}
	var all []PublishParams
	for _, r := range group {
		all = append(all, r.batch...)
	}
	res, err := g.publishGroup(ctx, all)
	if err != nil {
		// Alone, each request also meets the per-request delivery limit
		// on its own count, not the group's.
		g.fallbacks.Add(1)
		failed := 0
		for _, r := range group {
			res, err := g.s.publishEvents(ctx, r.batch, g.handoff)
			if err != nil {
				failed++
			}
			r.reply <- publishReply{res, err}
		}
		g.reportGroupFailure(err, len(group), len(all), failed)
		return
	}
	for _, r := range group {
		r.reply <- publishReply{results: res[:len(r.batch):len(r.batch)]}
		res = res[len(r.batch):]
	}
}

// publishGroup is the shared transaction of a group.
func (g *GroupCommitter) publishGroup(ctx context.Context, all []PublishParams) ([]PublishResult, error) {
	if g.failGroup != nil {
		if err := g.failGroup(); err != nil {
			return nil, err
		}
	}
	return g.s.publishEvents(ctx, all, g.handoff)
}

// reportGroupFailure warns when a group failed (err) but none of its
// requests did alone. A request that fails alone explains its group's
// failure (a bad owner, a reused idempotency key), and so does a group
// past the per-request delivery limit that its requests each keep to;
// anything else is a fault of the shared statements that the fallback
// would otherwise hide: a multi-tenant group that failed every time once
// published each request alone, at about a tenth of the rate, and said
// nothing.
func (g *GroupCommitter) reportGroupFailure(err error, requests, events, failed int) {
	var limit *DeliveryLimitError
	if g.logger == nil || failed > 0 || errors.As(err, &limit) {
		return
	}
	g.logger.Warn("publish: a group's shared transaction failed, but each of its requests committed alone; "+
		"such groups are published one request a transaction, which is much slower",
		"err", err, "requests", requests, "events", events)
}
