package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SeriesBucket is one time slice of a webhook's attempts.
type SeriesBucket struct {
	Start         time.Time
	Total         int64
	Successful    int64
	Failed        int64
	AvgDurationMs *float64 // nil when the bucket is empty
	MaxDurationMs *int64   // nil when the bucket is empty
}

// seriesCountsQuery sums a webhook's kept counts of one span (minutes) from
// a minute on into buckets of perBucket minutes, read in key order from
// the primary key.
func seriesCountsQuery(span, perBucket int64) string {
	return fmt.Sprintf(`SELECT minute / %d AS bucket, SUM(total_attempts), SUM(successful_attempts),
		SUM(total_duration_ms) * 1.0 / SUM(total_attempts), MAX(max_duration_ms)
		FROM webhook_log_counts WHERE webhook_id = $1 AND span = %d AND minute >= $2
		GROUP BY 1`, perBucket, span)
}

// WebhookSeries returns a user's webhook's attempts from since to now in
// buckets of the given width, aligned to multiples of it since the Unix
// epoch, oldest first, with every bucket present (empty ones too). It is
// ErrNotFound when the webhook is not the user's.
func (s *Store) WebhookSeries(ctx context.Context, tenantID, webhookID string, since time.Time, bucket time.Duration, now time.Time) ([]SeriesBucket, error) {
	hook, err := s.Webhook(ctx, tenantID, webhookID)
	if err != nil {
		return nil, err
	}
	return s.WebhookSeriesOf(ctx, hook, since, bucket, now)
}

// WebhookSeriesOf is WebhookSeries for a webhook the caller has already
// loaded for its owner (with Webhook), so that a request checks ownership
// once.
func (s *Store) WebhookSeriesOf(ctx context.Context, hook Webhook, since time.Time, bucket time.Duration, now time.Time) ([]SeriesBucket, error) {
	webhookID := hook.ID
	width := bucket.Milliseconds()
	if width <= 0 {
		return nil, fmt.Errorf("store: webhook series: bucket %v is under a millisecond", bucket)
	}
	first := since.UnixMilli() / width
	last := now.UnixMilli() / width
	if last < first {
		return []SeriesBucket{}, nil
	}
	var rows *sql.Rows
	var err error
	if width%60_000 == 0 {
		// Whole-minute buckets sum the kept counts, hours' where they are
		// whole hours: a week is 168 small rows, however many attempts it
		// holds.
		perBucket := width / 60_000
		span := int64(spanMinute)
		if perBucket%spanHour == 0 {
			span = spanHour
		}
		rows, err = s.read.QueryContext(ctx, seriesCountsQuery(span, perBucket), webhookID, first*perBucket)
	} else {
		// The bucket index is computed in SQL so that the attempts are
		// summed where they lie rather than sent here row by row. width is
		// ours, not the caller's, so it is formatted into the query.
		rows, err = s.read.QueryContext(ctx, `SELECT `+s.d.bucketIndex(width)+` AS bucket, COUNT(*),
			COALESCE(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0),
			AVG(duration_ms), MAX(duration_ms)
			FROM webhook_logs WHERE webhook_id = $1 AND created_at >= $2
			GROUP BY 1`, webhookID, s.d.t(time.UnixMilli(first*width)))
	}
	if err != nil {
		return nil, fmt.Errorf("store: webhook series: %w", err)
	}
	type sums struct {
		idx, total, success int64
		avg                 sql.NullFloat64
		maxMs               sql.NullInt64
	}
	got, err := collect(rows, func(r rowScanner) (sums, error) {
		var v sums
		err := r.Scan(&v.idx, &v.total, &v.success, &v.avg, &v.maxMs)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: webhook series: %w", err)
	}
	out := make([]SeriesBucket, last-first+1)
	for i := range out {
		out[i].Start = time.UnixMilli((first + int64(i)) * width).UTC()
	}
	for _, v := range got {
		i := v.idx - first
		if i < 0 || i >= int64(len(out)) {
			continue // attempts logged after now, by a clock a little ahead
		}
		b := &out[i]
		b.Total, b.Successful, b.Failed = v.total, v.success, v.total-v.success
		if v.avg.Valid {
			b.AvgDurationMs = &v.avg.Float64
		}
		if v.maxMs.Valid {
			b.MaxDurationMs = &v.maxMs.Int64
		}
	}
	return out, nil
}
