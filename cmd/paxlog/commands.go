package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// command is one subcommand. newRunner returns a fresh value holding the
// command's flags, so `paxlog help` can list every command's flags.
type command struct {
	name      string
	args      string // what follows the flags in the synopsis
	summary   string
	newRunner func() runner
}

// runner is a command's flag set and body.
type runner interface {
	// flags registers the command's flags with their defaults.
	flags(fs *pflag.FlagSet)
	// run executes the command; fs holds the parsed flags (fs.Args() the
	// positional arguments, fs.Changed tells a flag given by the user or
	// by its environment variable).
	run(c *cli, fs *pflag.FlagSet) error
}

// commands lists the subcommands in the order `paxlog help` shows them.
var commands = []*command{
	{"dev", "", "run a local cluster of N replicas in this process (data in ./paxlog-dev)", func() runner { return &devCmd{} }},
	{"serve", "", "run one replica of a deployment", func() runner { return &serveCmd{} }},
	{"append", "[DATA...]", "append each argument (or each line of stdin) and print its index", func() runner { return &appendCmd{} }},
	{"tail", "", "print entries with their index; --follow waits for new ones", func() runner { return &tailCmd{} }},
	{"status", "", "show the leader, ballot and every replica's indexes and lag", func() runner { return &statusCmd{} }},
	{"trim", "", "drop every entry below --before on every replica", func() runner { return &trimCmd{} }},
	{"bench", "", "generate append load and report throughput and latency", func() runner { return &benchCmd{} }},
	{"dump-wal", "DIR", "decode a replica's data directory as JSON lines, verifying checksums", func() runner { return &dumpCmd{} }},
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Errors that select an exit code (see exitCode).
var (
	errHelpShown = errors.New("paxlog: help shown")
	// errNoReplica: no address given could be connected to.
	errNoReplica = errors.New("no replica reachable")
	// errNoLeader: replicas answered, but none was (or knew) a leader in time.
	errNoLeader = errors.New("no leader within the timeout")
)

// usageError is a bad or missing flag or argument (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// newFlagSet builds cmd's flag set; r receives the values.
func newFlagSet(cmd *command, r runner) *pflag.FlagSet {
	fs := pflag.NewFlagSet(cmd.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	r.flags(fs)
	fs.BoolP("help", "h", false, "show this command's flags")
	return fs
}

// runCommand parses flags, then PAXLOG_* variables for flags not given on
// the command line, then runs the command.
func (c *cli) runCommand(cmd *command, args []string) error {
	r := cmd.newRunner()
	fs := newFlagSet(cmd, r)
	if err := fs.Parse(args); err != nil {
		return &usageError{msg: err.Error()}
	}
	if help, _ := fs.GetBool("help"); help {
		c.commandUsage(c.stdout, cmd)
		return errHelpShown
	}
	if err := c.applyEnv(fs); err != nil {
		return err
	}
	return r.run(c, fs)
}

// envName is the environment variable of a flag: PAXLOG_ and the flag name
// upper-cased with dashes as underscores (--log-level: PAXLOG_LOG_LEVEL).
func envName(flag string) string {
	return "PAXLOG_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// environment variable, when that is set and not empty.
func (c *cli) applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		v := c.getenv(envName(f.Name))
		if v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = usagef("environment variable %s=%q: %v", envName(f.Name), v, e)
		}
	})
	return err
}

// requireFlags fails with a usage error naming the first missing flag.
func requireFlags(fs interface{ Changed(string) bool }, names ...string) error {
	for _, n := range names {
		if !fs.Changed(n) {
			return usagef("missing required flag --%s (or %s)", n, envName(n))
		}
	}
	return nil
}
