package main

// webhookd user: one function per action, the password prompt, and
// createUser, which serve's first admin shares.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
)

// terminal is what readPassword needs of golang.org/x/term, so that tests
// can stand in for a terminal.
type terminal struct {
	isTerminal   func(fd int) bool
	readPassword func(fd int) ([]byte, error) // reads a line without echo
	prompt       io.Writer                    // where prompts go
}

// stdTerminal is the process's own terminal. Prompts go to stderr, so that
// stdout holds only the command's result.
var stdTerminal = terminal{isTerminal: term.IsTerminal, readPassword: term.ReadPassword, prompt: os.Stderr}

// readPassword reads the password for user create and passwd when
// --password is not given. At a terminal it prompts, reads without echo and
// asks twice, since a typo no one can see would otherwise become the
// password. Anything else (a pipe, a file) gives one line, for scripts.
func readPassword(stdin io.Reader, tty terminal) (string, error) {
	if f, ok := stdin.(interface{ Fd() uintptr }); ok && tty.isTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		ask := func(prompt string) (string, error) {
			fmt.Fprint(tty.prompt, prompt)
			p, err := tty.readPassword(fd)
			fmt.Fprintln(tty.prompt) // the Enter key was not echoed either
			if err != nil {
				return "", fmt.Errorf("read password from the terminal: %w", err)
			}
			return string(p), nil
		}
		first, err := ask("Password: ")
		if err != nil {
			return "", err
		}
		if first == "" {
			return "", errors.New("no password given")
		}
		if err := store.CheckPassword(first); err != nil {
			return "", err
		}
		again, err := ask("Password again: ")
		if err != nil {
			return "", err
		}
		if again != first {
			return "", errors.New("the two passwords differ")
		}
		return first, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	if p := strings.TrimRight(line, "\r\n"); p != "" {
		return p, nil
	}
	return "", errors.New("give --password or the password on stdin")
}

// userAction is one user subcommand.
type userAction struct {
	name     string
	usage    string // the command line, for help and the flag set's synopsis
	meaning  string // what it does, wrapped under the usage
	password bool   // takes --password, else prompts or reads stdin
	run      func(ctx context.Context, st *store.Store, req userRequest, stdout io.Writer) error
}

// userRequest is what the user command's flags and prompt gave an action.
type userRequest struct{ email, password, tenant string }

// userActions are the user subcommands, in the order help lists them.
var userActions = []userAction{
	{"create", "webhookd user create --email E [--tenant T] [--password P]", "create a user, in tenant T (created if new) or a tenant of its own; the password is prompted at a terminal, else read from stdin", true, userCreate},
	{"passwd", "webhookd user passwd --email E [--password P]", "set a new password; the user's tokens stop working", true, userPasswd},
	{"disable", "webhookd user disable --email E", "refuse the user's logins, tokens and API keys", false, userDisable},
	{"enable", "webhookd user enable --email E", "undo disable (old tokens stay invalid)", false, userEnable},
	{"delete", "webhookd user delete --email E", "delete the user and revoke its API keys; a tenant of its own goes with it, with all of its data", false, userDelete},
	{"unlock", "webhookd user unlock --email E", "clear the email's failed logins, lifting its login throttle", false, userUnlock},
	{"list", "webhookd user list [--tenant T]", "list the users, of every tenant or of tenant T, with their state", false, userList},
}

// userActionNames is "create, passwd, …, unlock or list", for messages.
func userActionNames() string {
	names := make([]string, len(userActions))
	for i, a := range userActions {
		names[i] = a.name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// writeActions lists actions for help: each usage line, its meaning
// wrapped under it, so that help fits usageWidth.
func writeActions(w io.Writer, usages, meanings []string) {
	for i := range usages {
		fmt.Fprintf(w, "  %s\n", usages[i])
		for _, line := range wrap(meanings[i], usageWidth-6) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
}

// runUser is webhookd user: it picks the action, parses the flags every
// action shares, reads a password the action needs, opens the database
// and runs the action.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if isHelp(args) {
		var usages, meanings []string
		for _, a := range userActions {
			usages, meanings = append(usages, a.usage), append(meanings, a.meaning)
		}
		writeActions(stdout, usages, meanings)
		fmt.Fprintln(stdout)
		// Every action takes --db and --email; create's flags are the superset.
		args = []string{"create", "-h"}
	}
	if len(args) == 0 {
		return fmt.Errorf("user: say %s (run 'webhookd help user')", userActionNames())
	}
	i := slices.IndexFunc(userActions, func(a userAction) bool { return a.name == args[0] })
	if i < 0 {
		return fmt.Errorf("user: unknown action %q: say %s", args[0], userActionNames())
	}
	action := userActions[i]
	fs := newFlagSet("user "+action.name, "Usage: "+action.usage+"\n\n"+strings.Join(wrap(capitalize(action.meaning)+".", usageWidth), "\n"))
	db := dbFlag(fs)
	var req userRequest
	if action.name != "list" {
		fs.StringVar(&req.email, "email", "", "the user's email address (required)")
	}
	switch action.name {
	case "create":
		fs.StringVar(&req.tenant, "tenant", "", "the tenant the user joins, created if new, such as the CRM's account id acme (default: a new tenant for this user alone)")
	case "list":
		fs.StringVar(&req.tenant, "tenant", "", "only this tenant's members (default: every user)")
	}
	if action.password {
		fs.StringVar(&req.password, "password", "", "password, at least 12 characters; visible to other local users (ps, /proc) while the command runs, so prefer the prompt or stdin (default: prompted without echo at a terminal, else one line of stdin)")
	}
	if err := parseFlags(fs, args[1:], getenv, stdout); err != nil {
		return err
	}
	if req.email == "" && action.name != "list" {
		return fmt.Errorf("user %s: --email is required", action.name)
	}
	if req.tenant != "" && !store.ValidTenantID(req.tenant) {
		return fmt.Errorf("user %s: --tenant %q must match %s", action.name, req.tenant, store.TenantIDPattern)
	}
	if action.password && req.password == "" {
		p, err := readPassword(stdin, stdTerminal)
		if err != nil {
			return fmt.Errorf("user %s: %w", action.name, err)
		}
		req.password = p
	}
	st, err := openAdminStore(ctx, *db, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	return action.run(ctx, st, req, stdout)
}

// userCreate is webhookd user create.
func userCreate(ctx context.Context, st *store.Store, req userRequest, stdout io.Writer) error {
	u, err := createUser(ctx, st, req.email, req.password, req.tenant)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user create: a user with email %s already exists", req.email)
		}
		return fmt.Errorf("user create: %w", err)
	}
	// Without --tenant the answer is as it always was: the user's tenant
	// is its own, with nothing to say about it.
	if req.tenant == "" {
		fmt.Fprintf(stdout, "created user %s\n", u.Email)
		return nil
	}
	fmt.Fprintf(stdout, "created user %s in tenant %s\n", u.Email, u.TenantID)
	return nil
}

// createUser checks and stores a new user, in tenant (created if new; ""
// for a tenant of its own), for user create and for the admin serve
// creates at start.
func createUser(ctx context.Context, st *store.Store, email, password, tenant string) (store.User, error) {
	if err := store.CheckEmail(email); err != nil {
		return store.User{}, err
	}
	if err := store.CheckPassword(password); err != nil {
		return store.User{}, err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return store.User{}, err
	}
	return st.CreateUser(ctx, email, hash, tenant)
}

// findUser is the user an action other than create names, or an error
// saying that there is none.
func findUser(ctx context.Context, st *store.Store, action, email string) (store.User, error) {
	u, err := st.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("user %s: no user with email %s", action, email)
	}
	return u, err
}

// userPasswd is webhookd user passwd. Setting the password ends the
// user's tokens (the store bumps its token version).
func userPasswd(ctx context.Context, st *store.Store, req userRequest, stdout io.Writer) error {
	u, err := findUser(ctx, st, "passwd", req.email)
	if err != nil {
		return err
	}
	if err := store.CheckPassword(req.password); err != nil {
		return fmt.Errorf("user passwd: %w", err)
	}
	hash, err := auth.HashPassword(req.password)
	if err != nil {
		return err
	}
	if err := st.SetPassword(ctx, u.ID, hash); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "changed the password of %s; its earlier tokens no longer work\n", store.NormalizeEmail(req.email))
	return nil
}

// userDisable is webhookd user disable.
func userDisable(ctx context.Context, st *store.Store, req userRequest, stdout io.Writer) error {
	return setUserDisabled(ctx, st, "disable", req.email, stdout)
}

// userEnable is webhookd user enable.
func userEnable(ctx context.Context, st *store.Store, req userRequest, stdout io.Writer) error {
	return setUserDisabled(ctx, st, "enable", req.email, stdout)
}

// setUserDisabled disables (action "disable") or enables the user, and
// says so with the action's past tense.
func setUserDisabled(ctx context.Context, st *store.Store, action, email string, stdout io.Writer) error {
	u, err := findUser(ctx, st, action, email)
	if err != nil {
		return err
	}
	if err := st.SetUserDisabled(ctx, u.ID, action == "disable"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%sd user %s\n", action, store.NormalizeEmail(email))
	return nil
}

// userDelete is webhookd user delete.
func userDelete(ctx context.Context, st *store.Store, req userRequest, stdout io.Writer) error {
	u, err := findUser(ctx, st, "delete", req.email)
	if err != nil {
		return err
	}
	if err := st.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	if u.TenantID == u.ID {
		fmt.Fprintf(stdout, "deleted user %s; its own tenant, if it had no other member, went with it, with its webhooks, events, logs and API keys\n", u.Email)
		return nil
	}
	fmt.Fprintf(stdout, "deleted user %s; tenant %s keeps what the user created but its API keys, which are revoked\n", u.Email, u.TenantID)
	return nil
}

// userUnlock is webhookd user unlock: it clears the failed logins counted
// against an email, so a user locked out by the login throttle may log in
// again before the window passes. Counts against client addresses stay.
func userUnlock(ctx context.Context, st *store.Store, req userRequest, stdout io.Writer) error {
	if _, err := findUser(ctx, st, "unlock", req.email); err != nil {
		return err
	}
	email := store.NormalizeEmail(req.email)
	if err := st.ClearLoginFailures(ctx, server.EmailThrottleKey(email)); err != nil {
		return fmt.Errorf("user unlock: %w", err)
	}
	fmt.Fprintf(stdout, "cleared the failed logins of %s; it may log in again, except from a client address that is itself locked (its failures stay until --login-window passes)\n", email)
	return nil
}

// userList is webhookd user list: a table of users, the tenant's or
// every one, for an operator checking who can sign in.
func userList(ctx context.Context, st *store.Store, req userRequest, stdout io.Writer) error {
	users, err := st.ListUsers(ctx, req.tenant)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		if req.tenant != "" {
			fmt.Fprintf(stdout, "tenant %s has no users\n", req.tenant)
			return nil
		}
		fmt.Fprintln(stdout, "no users")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tTENANT\tSTATE\tCREATED")
	for _, u := range users {
		state := "active"
		if u.DisabledAt != nil {
			state = "disabled since " + u.DisabledAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Email, u.TenantID, state, u.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// capitalize upper-cases the first letter of a help meaning, which
// reads as a phrase in a list and as a sentence on its own.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
