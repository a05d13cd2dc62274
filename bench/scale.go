package bench

// Scale of data (issue 18, item 4): many tenants publishing a mix of
// event types (--tenants), and a backlog loaded before the clock starts
// (--backlog).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// mixTypes are the event types a multi-tenant run mixes: the built-in
// catalogue's, whose schemas all take eventData's fields. Each tenant's
// webhook i subscribes to mixTypes[i%len(mixTypes)], as a CRM's account
// points one endpoint at each kind of event, so with five webhooks a
// tenant an event reaches exactly one of them.
var mixTypes = []string{"message.new", "conversation.created", "conversation.assigned", "campaign.started", "campaign.completed"}

// tenantID is the id of the bench's tenant i (of a multi-tenant run).
func tenantID(i int) string { return fmt.Sprintf("bench-%05d", i) }

// eventTenant is the tenant event seq goes to, or "" in a run of one
// owner: the events go round the tenants.
func (cfg Config) eventTenant(seq int) string {
	if cfg.Tenants < 1 {
		return ""
	}
	return tenantID(seq % cfg.Tenants)
}

// eventType is event seq's type: message.new in a run of one owner; in a
// multi-tenant run each tenant's events take the types in turn (seq's
// round of the tenants moves the type on by one, so a tenant does not
// always get the same one).
func (cfg Config) eventType(seq int) string {
	if cfg.Tenants < 1 {
		return "message.new"
	}
	return mixTypes[(seq+seq/cfg.Tenants)%len(mixTypes)]
}

// hookEvents are the events webhook i (of its tenant) subscribes to.
func (cfg Config) hookEvents(i int) []string {
	if cfg.Tenants < 1 {
		return []string{"*"}
	}
	return []string{mixTypes[i%len(mixTypes)]}
}

// expectedDeliveries is how many deliveries total events create: every
// event reaches every webhook of a single owner; in a multi-tenant run an
// event reaches its tenant's webhooks subscribed to its type.
func (cfg Config) expectedDeliveries(total int) int {
	if cfg.Tenants < 1 {
		return total * cfg.Webhooks
	}
	perType := make(map[string]int, len(mixTypes))
	for i := range cfg.Webhooks {
		perType[mixTypes[i%len(mixTypes)]]++
	}
	n := 0
	for seq := range total {
		n += perType[cfg.eventType(seq)]
	}
	return n
}

// createTenants creates (or takes over) the run's tenants through
// PUT /api/v1/tenants/:id, which only a service key may call, and
// returns those it reached, also on error, so that they can be deleted.
func createTenants(ctx context.Context, api *apiClient, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for i := range n {
		id := tenantID(i)
		err := api.do(ctx, http.MethodPut, "/api/v1/tenants/"+id, map[string]string{"name": "webhookd bench " + id}, nil)
		if err != nil {
			if se := (*statusError)(nil); errors.As(err, &se) && (se.code == http.StatusForbidden || se.code == http.StatusUnauthorized) {
				return ids, fmt.Errorf("bench: --tenants needs a service API key as --token (webhookd apikey create --service): %w", err)
			}
			return ids, fmt.Errorf("bench: create tenant: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// createTenantWebhooks creates cfg.Webhooks webhooks in each tenant, from
// a few requests at a time: 5,000 one after another would take longer
// than the run they prepare.
func createTenantWebhooks(ctx context.Context, api *apiClient, url string, cfg Config, tenants []string) error {
	const parallel = 8
	work := make(chan string)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for tenant := range work {
				for i := range cfg.Webhooks {
					body := map[string]any{"name": fmt.Sprintf("bench-%d", i), "url": url + "/hook", "events": cfg.hookEvents(i)}
					if cfg.Ordering == "fifo" {
						body["ordering"] = "fifo"
						if cfg.OrderingKeys > 0 {
							body["orderingKey"] = "data.conversationId"
						}
					}
					if err := api.doFor(ctx, tenant, http.MethodPost, "/api/v1/webhooks", body, nil); err != nil {
						once.Do(func() { firstErr = fmt.Errorf("bench: create webhook of tenant %s: %w", tenant, err) })
						return
					}
				}
			}
		})
	}
	for _, t := range tenants {
		if ctx.Err() != nil {
			break
		}
		work <- t
	}
	close(work)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// deleteTenants removes the run's tenants, and by cascade their webhooks,
// events, deliveries and logs, leaving a --target as it was. It runs even
// when ctx has ended.
func deleteTenants(ctx context.Context, api *apiClient, ids []string) {
	for _, id := range ids {
		_ = api.do(context.WithoutCancel(ctx), http.MethodDelete, "/api/v1/tenants/"+id, nil, nil)
	}
}

// pause makes the receiver hold every request until resume: deliveries
// then stay queued (at most the sender's in-flight share held open) while
// a backlog is published. A request whose sender gave up meanwhile (its
// attempt timed out and will be retried) is not counted as an arrival.
func (r *receiver) pause() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resumed == nil {
		r.resumed = make(chan struct{})
	}
}

// resume lets held and later requests through.
func (r *receiver) resume() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resumed != nil {
		close(r.resumed)
		r.resumed = nil
	}
}

// held waits while the receiver is paused. It reports false when the
// request's sender went away first.
func (r *receiver) held(req *http.Request) bool {
	r.mu.Lock()
	resumed := r.resumed
	r.mu.Unlock()
	if resumed == nil {
		return true
	}
	select {
	case <-resumed:
		return true
	case <-req.Context().Done():
		return false
	}
}

// checkScale refuses scale options Run cannot combine.
func (cfg Config) checkScale() error {
	switch {
	case cfg.Tenants < 0:
		return errors.New("bench: --tenants must be 0 or more")
	case cfg.Backlog < 0:
		return errors.New("bench: --backlog must be 0 or more")
	case cfg.Tenants > 0 && cfg.Filter != nil:
		return errors.New("bench: --tenants mixes event types, which --filter (checked against message.new) cannot follow: drop one")
	case cfg.Tenants > 0 && cfg.Outbox != nil:
		return errors.New("bench: --tenants publishes through the API, not the outbox: drop one")
	case cfg.Backlog > 0 && cfg.Duration > 0:
		return errors.New("bench: --backlog measures draining a queue, --duration a steady rate: drop one")
	case cfg.Backlog > 0 && cfg.Outbox != nil:
		return errors.New("bench: --backlog publishes through the API, not the outbox: drop one")
	}
	return nil
}
