package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

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

// unlockUser clears the failed logins counted against an email, so a user
// locked out by the login throttle may log in again before the window
// passes. Counts against client addresses stay.
func unlockUser(ctx context.Context, st *store.Store, email string, stdout io.Writer) error {
	if err := st.ClearLoginFailures(ctx, server.EmailThrottleKey(email)); err != nil {
		return fmt.Errorf("user unlock: %w", err)
	}
	fmt.Fprintf(stdout, "cleared the failed logins of %s; it may log in again, except from a client address that is itself locked (its failures stay until --login-window passes)\n", email)
	return nil
}
