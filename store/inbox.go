package store

import (
	"context"
	"fmt"
	"strings"
)

// maxInboxTargets bounds how many webhooks one inbox capture checks its
// signature against; the inbox is a development tool, not a fan-in.
const maxInboxTargets = 200

// WebhooksTargetingInbox returns the webhooks, of any user, whose URL
// mentions the path /inbox/<name>; the caller decides which of them really
// target this process's inbox. name must not contain LIKE's escape
// character; inbox names are letters, digits, '.', '_' and '-'.
func (s *Store) WebhooksTargetingInbox(ctx context.Context, name string) ([]Webhook, error) {
	if strings.ContainsAny(name, `\%`) {
		return nil, fmt.Errorf("store: webhooks targeting inbox: invalid name %q", name)
	}
	pattern := `%/inbox/` + strings.ReplaceAll(name, "_", `\_`) + `%`
	rows, err := s.read.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE url LIKE $1 ESCAPE '\'
		ORDER BY id LIMIT `+fmt.Sprint(maxInboxTargets), pattern)
	if err != nil {
		return nil, fmt.Errorf("store: webhooks targeting inbox: %w", err)
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("store: webhooks targeting inbox: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: webhooks targeting inbox: %w", err)
	}
	return out, nil
}
