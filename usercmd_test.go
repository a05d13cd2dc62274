package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// fakeTTY is a stdin that a fake terminal claims as its own.
type fakeTTY struct{ io.Reader }

func (fakeTTY) Fd() uintptr { return 42 }

// Issue 12 item 14: a pipe gives one line as before; a terminal gets a
// prompt, a read without echo and a second entry that must match.
func TestReadPassword(t *testing.T) {
	typed := func(lines ...string) (terminal, *bytes.Buffer, *int) {
		var prompts bytes.Buffer
		reads := 0
		return terminal{
			isTerminal: func(fd int) bool { return fd == 42 },
			readPassword: func(fd int) ([]byte, error) {
				if reads == len(lines) {
					return nil, io.EOF
				}
				reads++
				return []byte(lines[reads-1]), nil
			},
			prompt: &prompts,
		}, &prompts, &reads
	}

	t.Run("stdin that is no terminal", func(t *testing.T) {
		tty, prompts, reads := typed()
		for in, want := range map[string]string{"from a pipe 123\n": "from a pipe 123", "windows line\r\n": "windows line", "no newline": "no newline"} {
			got, err := readPassword(strings.NewReader(in), tty)
			if err != nil || got != want {
				t.Errorf("readPassword(%q) = %q, %v; want %q", in, got, err, want)
			}
		}
		// A file descriptor that is no terminal reads stdin too.
		if got, err := readPassword(struct {
			io.Reader
			fdOf
		}{strings.NewReader("a file 0123456\n"), fdOf(7)}, tty); err != nil || got != "a file 0123456" {
			t.Errorf("readPassword(a non-terminal file) = %q, %v", got, err)
		}
		if _, err := readPassword(strings.NewReader(""), tty); err == nil || !strings.Contains(err.Error(), "--password") {
			t.Errorf("empty stdin: %v, want an error naming --password", err)
		}
		if prompts.Len() != 0 || *reads != 0 {
			t.Errorf("prompted %q and read the terminal %d times for stdin that is no terminal", prompts, *reads)
		}
	})

	t.Run("terminal", func(t *testing.T) {
		tty, prompts, _ := typed("at the terminal 1", "at the terminal 1")
		got, err := readPassword(fakeTTY{strings.NewReader("")}, tty)
		if err != nil || got != "at the terminal 1" {
			t.Fatalf("readPassword = %q, %v", got, err)
		}
		if p := prompts.String(); !strings.Contains(p, "Password: ") || !strings.Contains(p, "Password again: ") {
			t.Errorf("prompts = %q, want Password: and Password again:", p)
		}
		for _, c := range []struct {
			lines []string
			want  string
		}{
			{[]string{"at the terminal 1", "at the terminal 2"}, "differ"},
			{[]string{"short"}, "12 characters"},
			{[]string{""}, "no password"},
			{nil, "read password from the terminal"},
		} {
			tty, _, _ := typed(c.lines...)
			if _, err := readPassword(fakeTTY{strings.NewReader("")}, tty); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("typed %q: %v, want an error saying %q", c.lines, err, c.want)
			}
		}
	})
}

// fdOf gives a reader a file descriptor.
type fdOf uintptr

func (f fdOf) Fd() uintptr { return uintptr(f) }
