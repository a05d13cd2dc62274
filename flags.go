package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet whose flags each have an environment variable:
// a flag given on the command line wins, then the variable, then the
// default.
type flagSet struct {
	*flag.FlagSet
	env      map[string]string // flag name → variable
	synopsis string
}

func newFlagSet(name, synopsis string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), env: map[string]string{}, synopsis: synopsis}
	fs.SetOutput(io.Discard)
	return fs
}

// bindEnv names the variable that sets flag name.
func (fs *flagSet) bindEnv(name, variable string) { fs.env[name] = variable }

// parse reads args, then fills each flag not given from its variable.
func (fs *flagSet) parse(args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, variable := range fs.env {
		if given[name] {
			continue
		}
		if v := getenv(variable); v != "" {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("%s=%q: %w", variable, v, err)
			}
		}
	}
	return nil
}

// usageWidth is the column usage wraps at: help must read in a
// 100-column terminal without the lines folding.
const usageWidth = 100

// usage writes the synopsis and every flag with its variable and default,
// the meaning wrapped under it so that no line passes usageWidth.
func (fs *flagSet) usage(w io.Writer) {
	for _, line := range strings.Split(fs.synopsis, "\n") {
		if len(line) <= usageWidth {
			fmt.Fprintln(w, line)
			continue
		}
		// A long line keeps its indentation on the lines it wraps to.
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		for _, part := range wrap(line, usageWidth-len(indent)) {
			fmt.Fprintln(w, indent+part)
		}
	}
	fmt.Fprint(w, "\nFlags (each also set by the environment variable beside it; the flag wins):\n")
	fs.VisitAll(func(f *flag.Flag) {
		line := "  --" + f.Name
		if env := fs.env[f.Name]; env != "" {
			line += "  " + env
		}
		def := f.DefValue
		if g, ok := f.Value.(flag.Getter); ok {
			if d, ok := g.Get().(time.Duration); ok {
				def = shortDuration(d)
			}
		}
		if def != "" && def != "false" {
			line += "  (default " + def + ")"
		}
		fmt.Fprintln(w, line)
		for _, line := range wrap(f.Usage, usageWidth-6) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	})
}

// wrap breaks text into lines of at most width bytes at spaces; a single
// word longer than width gets a line of its own.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// shortDuration formats d as a person would write it: 24h rather than
// time.Duration's 24h0m0s, so that the usage shows the documented defaults.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// splitList splits a comma-separated value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// isHelp reports whether args ask for help rather than name an action.
func isHelp(args []string) bool {
	return len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help")
}

// parseFlags parses and, on -h, prints the usage to stdout.
func parseFlags(fs *flagSet, args []string, getenv func(string) string, stdout io.Writer) error {
	err := fs.parse(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fs.usage(stdout)
		return err
	}
	if err != nil {
		return fmt.Errorf("%s: %w (run 'webhookd help %s')", fs.Name(), err, strings.Fields(fs.Name())[0])
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (run 'webhookd help %s')", fs.Name(), fs.Arg(0), strings.Fields(fs.Name())[0])
	}
	return nil
}

// dbFlag adds --db / WEBHOOKD_DB.
func dbFlag(fs *flagSet) *string {
	v := new(string)
	dbFlagVar(fs, v)
	return v
}

// dbFlagVar adds --db / WEBHOOKD_DB, stored in p: serve and the admin
// commands share one default and one usage text.
func dbFlagVar(fs *flagSet, p *string) {
	fs.StringVar(p, "db", "webhookd.db", "database: an SQLite file path (or sqlite:PATH), or a postgres:// or postgresql:// URL")
	fs.bindEnv("db", "WEBHOOKD_DB")
}

// isSet reports whether the flag name was given on the command line (or
// by its variable), to tell an empty value from an absent one.
func (fs *flagSet) isSet(name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
