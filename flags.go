package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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

// usage writes the synopsis and every flag with its variable and default.
func (fs *flagSet) usage(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nFlags:\n", fs.synopsis)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  flag\tenvironment\tdefault\tmeaning")
	fs.VisitAll(func(f *flag.Flag) {
		env := fs.env[f.Name]
		if env == "" {
			env = "-"
		}
		def := f.DefValue
		if g, ok := f.Value.(flag.Getter); ok {
			if d, ok := g.Get().(time.Duration); ok {
				def = shortDuration(d)
			}
		}
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(tw, "  --%s\t%s\t%s\t%s\n", f.Name, env, def, f.Usage)
	})
	tw.Flush()
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
