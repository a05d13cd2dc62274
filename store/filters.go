package store

import (
	"sync"
	"time"

	"github.com/webhookd/webhookd/filter"
)

// maxCachedFilters bounds the parsed-filter cache; past it the cache starts
// again empty rather than keeping filters of webhooks long deleted.
const maxCachedFilters = 50_000

// filterCache keeps each webhook's parsed filter, so that a publish parses
// a filter once per change rather than once per event. An entry is valid
// while the stored text is the text it was parsed from: comparing the text
// is exact where an updated_at stamp could repeat within its millisecond.
type filterCache struct {
	mu sync.Mutex
	m  map[string]cachedFilter
}

type cachedFilter struct {
	raw string
	f   *filter.Filter // nil: the stored text does not parse
}

// parsedFilter returns the webhook's filter parsed from raw, and false when
// raw does not parse. The API validates every filter it saves, so that only
// happens to text written to the database by other means; such a webhook
// receives nothing until its filter is fixed, as a filter's purpose is to
// hold events back.
func (s *Store) parsedFilter(webhookID, raw string) (*filter.Filter, bool) {
	c := &s.filters
	c.mu.Lock()
	if e, ok := c.m[webhookID]; ok && e.raw == raw {
		c.mu.Unlock()
		return e.f, e.f != nil
	}
	c.mu.Unlock()
	f, err := filter.Parse([]byte(raw))
	if err != nil {
		f = nil
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedFilters {
		c.m = map[string]cachedFilter{}
	}
	c.m[webhookID] = cachedFilter{raw: raw, f: f}
	c.mu.Unlock()
	return f, f != nil
}

// envelopeCache builds an event's filter envelope on first need: only
// events that reach a webhook with a filter pay for decoding their data.
type envelopeCache struct {
	env *filter.Envelope
	bad bool // the data would not decode (it was validated: never expected)
}

// passes reports whether the event (type, time, data) passes sub's filter;
// a webhook without one takes every event of its types.
func (e *envelopeCache) passes(sub subscription, eventType string, at time.Time, data []byte) bool {
	if !sub.filtered {
		return true
	}
	if sub.filter == nil || e.bad {
		return false
	}
	if e.env == nil {
		env, err := filter.NewEnvelope(eventType, at, data)
		if err != nil {
			e.bad = true
			return false
		}
		e.env = env
	}
	return sub.filter.Match(e.env)
}
