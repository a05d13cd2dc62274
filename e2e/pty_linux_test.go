//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// openPTY opens a pseudo-terminal pair: the master the test types into and
// reads from, and the terminal the command sees.
func openPTY(t testing.TB) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/pts/%d: %v", n, err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// ptySession is a command running with a pseudo-terminal as its stdin and
// stderr.
type ptySession struct {
	t      testing.TB
	master *os.File
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	screen bytes.Buffer // everything the terminal showed
	read   chan struct{}
}

func startPTY(t testing.TB, args ...string) *ptySession {
	t.Helper()
	master, tty := openPTY(t)
	bin := binary(t) // built before the command's minute starts
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	s := &ptySession{t: t, master: master, read: make(chan struct{})}
	s.cmd = exec.CommandContext(ctx, bin, args...)
	s.cmd.Env = processEnv()
	s.cmd.Stdin, s.cmd.Stderr, s.cmd.Stdout = tty, tty, &s.stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start webhookd: %v", err)
	}
	// The command holds the terminal now; once it exits, reading the
	// master ends.
	tty.Close()
	go func() {
		defer close(s.read)
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			s.mu.Lock()
			s.screen.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *ptySession) shown() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.screen.String()
}

// waitFor polls until the terminal has shown want count times and has
// echo turned off: only then is typing a password invisible.
func (s *ptySession) waitFor(want string, count int) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The master answers for the terminal's settings on Linux.
		tio, err := unix.IoctlGetTermios(int(s.master.Fd()), unix.TCGETS)
		if err != nil {
			s.t.Fatalf("read terminal settings: %v", err)
		}
		if strings.Count(s.shown(), want) >= count && tio.Lflag&unix.ECHO == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q prompt with echo off after 30s; the terminal shows %q", want, s.shown())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *ptySession) typeLine(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.master, line+"\r"); err != nil {
		s.t.Fatalf("type into the terminal: %v", err)
	}
}

// wait returns the command's exit code once it and the reader are done.
func (s *ptySession) wait() int {
	s.t.Helper()
	err := s.cmd.Wait()
	<-s.read
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		s.t.Fatalf("webhookd: %v", err)
	}
	return 0
}

// Issue 12 item 14: at a terminal, `webhookd user create` prompts for the
// password twice and reads it without echo.
func TestE2EPasswordPromptAtTerminal(t *testing.T) {
	t.Parallel()
	db := storetest.SQLitePath(t)
	const password = "typed at a terminal 7f3a"

	// Only serve and migrate up create a database (issue 12, item 12).
	mustWebhookd(t, nil, "", "migrate", "up", "--db", db)
	s := startPTY(t, "user", "create", "--email", "tty@example.com", "--db", db)
	s.waitFor("Password: ", 1)
	s.typeLine(password)
	s.waitFor("Password again: ", 1)
	s.typeLine(password)
	if code := s.wait(); code != 0 {
		t.Fatalf("user create at a terminal: exit %d; the terminal shows %q; stdout %q", code, s.shown(), s.stdout.String())
	}
	if strings.Contains(s.shown(), password) {
		t.Errorf("the terminal echoed the password: %q", s.shown())
	}
	if !strings.Contains(s.stdout.String(), "created user tty@example.com") {
		t.Errorf("stdout = %q, want created user tty@example.com", s.stdout.String())
	}
	st := storetest.Open(t, db, store.ForAdmin())
	u, err := st.UserByEmail(context.Background(), "tty@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !auth.CheckPassword(u.PasswordHash, password) {
		t.Errorf("the stored password is not the one typed")
	}

	// Two different entries create nothing.
	s = startPTY(t, "user", "create", "--email", "typo@example.com", "--db", db)
	s.waitFor("Password: ", 1)
	s.typeLine(password)
	s.waitFor("Password again: ", 1)
	s.typeLine(password + " typo")
	if code := s.wait(); code == 0 || !strings.Contains(s.shown(), "differ") {
		t.Errorf("different passwords: exit %d, terminal %q; want a non-zero exit saying they differ", code, s.shown())
	}
	if _, err := st.UserByEmail(context.Background(), "typo@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a user was created from mismatched passwords: %v", err)
	}
}

// Issue 19: at a terminal, `webhookd migrate down` says what it would roll
// back and goes on only on "yes".
func TestE2EMigrateDownAsksAtTerminal(t *testing.T) {
	t.Parallel()
	db := storetest.SQLitePath(t)
	mustWebhookd(t, nil, "", "migrate", "up", "--db", db)
	before := mustWebhookd(t, nil, "", "migrate", "status", "--db", db).stdout

	s := startPTY(t, "migrate", "down", "--db", db)
	s.waitForText("Type yes to go on: ")
	s.typeLine("no")
	if code := s.wait(); code == 0 || !strings.Contains(s.shown(), "not confirmed") {
		t.Errorf("answering no: exit %d, terminal %q; want a non-zero exit saying it was not confirmed", code, s.shown())
	}
	if after := mustWebhookd(t, nil, "", "migrate", "status", "--db", db).stdout; after != before {
		t.Errorf("answering no changed the migrations:\n%s\nwant\n%s", after, before)
	}

	s = startPTY(t, "migrate", "down", "--db", db)
	s.waitForText("Type yes to go on: ")
	if !strings.Contains(s.shown(), "migration 0") {
		t.Errorf("the question %q does not name the migration it rolls back", s.shown())
	}
	s.typeLine("yes")
	if code := s.wait(); code != 0 || !strings.Contains(s.stdout.String(), "rolled back") {
		t.Errorf("answering yes: exit %d, terminal %q, stdout %q; want the latest migration rolled back", code, s.shown(), s.stdout.String())
	}
}

// waitForText polls until the terminal has shown want.
func (s *ptySession) waitForText(want string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.shown(), want) {
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q after 30s; the terminal shows %q", want, s.shown())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
