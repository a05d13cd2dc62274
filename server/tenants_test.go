package server_test

import (
	"context"
	"testing"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
)

// serviceKey makes a service API key, as 'webhookd apikey create
// --service' does, and returns the key.
func serviceKey(t testing.TB, st *store.Store, name string) string {
	t.Helper()
	key, hash, prefix, err := auth.NewAPIKey()
	if err != nil {
		t.Fatalf("new API key: %v", err)
	}
	if _, err := st.CreateAPIKey(context.Background(), store.NewAPIKey{Service: true, CreatedBy: "cli", Name: name, KeyHash: hash, Prefix: prefix}); err != nil {
		t.Fatalf("create service key: %v", err)
	}
	return key
}
