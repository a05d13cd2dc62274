package main

// webhookd tenant: list, create and delete tenants from the command line,
// as the service API does over HTTP.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/webhookd/webhookd/store"
)

// runTenant is webhookd tenant list|create|delete.
func runTenant(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "Usage:\n" +
		"  webhookd tenant list [--db D]\n" +
		"      list tenants with their webhook and member counts\n" +
		"  webhookd tenant create --id T [--name N] [--metadata JSON]\n" +
		"      create a tenant, or update its name and metadata\n" +
		"  webhookd tenant delete --id T\n" +
		"      delete a tenant with all of its data: members, API keys, webhooks, events, logs,\n" +
		"      pending deliveries\n\n" +
		"A tenant's members and keys: 'webhookd user create --email E --tenant T' and\n" +
		"'webhookd apikey create --tenant T --name N'."
	if isHelp(args) {
		// create's flags are all of them; parseFlags prints the usage
		// with them, once.
		args = []string{"create", "-h"}
	}
	if len(args) == 0 {
		return errors.New("tenant: say list, create or delete (run 'webhookd help tenant')")
	}
	action := args[0]
	if action != "list" && action != "create" && action != "delete" {
		return fmt.Errorf("tenant: unknown action %q: say list, create or delete", action)
	}
	fs := newFlagSet("tenant "+action, usage)
	db := dbFlag(fs)
	var id, name, metadata string
	if action != "list" {
		fs.StringVar(&id, "id", "", "the tenant's id, the CRM's own account id, such as acme (required)")
	}
	if action == "create" {
		fs.StringVar(&name, "name", "", "a display name")
		fs.StringVar(&metadata, "metadata", "", "a JSON object kept with the tenant")
	}
	if err := parseFlags(fs, args[1:], getenv, stdout); err != nil {
		return err
	}
	if action != "list" && id == "" {
		return fmt.Errorf("tenant %s: --id is required: the tenant's id, such as acme", action)
	}
	if action != "list" && !store.ValidTenantID(id) {
		return fmt.Errorf("tenant %s: --id %q must match %s", action, id, store.TenantIDPattern)
	}
	var p store.TenantParams
	if action == "create" {
		if fs.isSet("name") {
			n := strings.TrimSpace(name)
			p.Name = &n
		}
		if fs.isSet("metadata") {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal([]byte(metadata), &obj); err != nil || obj == nil {
				return fmt.Errorf("tenant create: --metadata must be a JSON object")
			}
			compact, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			p.Metadata = compact
		}
	}
	st, err := openAdminStore(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	switch action {
	case "create":
		t, created, err := st.PutTenant(ctx, id, p)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(stdout, "created tenant %s\n", t.ID)
		} else {
			fmt.Fprintf(stdout, "tenant %s exists; name and metadata as given\n", t.ID)
		}
		return nil
	case "delete":
		if err := st.DeleteTenant(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("tenant delete: no tenant %s", id)
			}
			return err
		}
		fmt.Fprintf(stdout, "deleted tenant %s with its members, API keys, webhooks, events and logs\n", id)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tNAME\tWEBHOOKS\tMEMBERS\tCREATED")
	after := ""
	for {
		page, next, err := st.ListTenants(ctx, after, 100)
		if err != nil {
			return err
		}
		for _, t := range page {
			members, err := st.TenantMembers(ctx, t.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", t.ID, clip(t.Name, 32), t.Webhooks, len(members), t.CreatedAt.Format("2006-01-02 15:04"))
		}
		if next == "" {
			break
		}
		after = next
	}
	return tw.Flush()
}
