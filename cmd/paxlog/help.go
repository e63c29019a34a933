package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/paxlog/paxlog/storage"
)

// Exit codes. They are part of the command line's contract and listed by
// `paxlog help`.
const (
	exitOK        = 0
	exitFailure   = 1 // any other error
	exitUsage     = 2 // bad flag, missing required flag, bad argument
	exitAddrInUse = 3 // the listen or metrics address is already in use
	exitIdentity  = 4 // the data directory belongs to another cluster or node
	exitCorrupt   = 5 // the data directory is corrupted (the message names file and offset)
	exitNoReplica = 6 // no replica reachable at the given addresses
	exitNoLeader  = 7 // replicas answered but no leader was found within --timeout
	exitLocked    = 8 // the data directory is in use by another process (or replica)
	exitSignal    = 130
)

var exitCodes = []struct {
	code int
	what string
}{
	{exitOK, "success"},
	{exitFailure, "any other error"},
	{exitUsage, "bad flag or argument, or a required flag missing"},
	{exitAddrInUse, "listen or metrics address already in use"},
	{exitIdentity, "data directory belongs to another cluster or node"},
	{exitCorrupt, "data directory corrupted (the message names file and offset)"},
	{exitNoReplica, "no replica reachable at --addr"},
	{exitNoLeader, "replicas reachable but no leader within --timeout"},
	{exitLocked, "data directory in use by another running replica"},
	{exitSignal, "a second SIGINT/SIGTERM during shutdown"},
}

// exitCode classifies err.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, syscall.EADDRINUSE):
		return exitAddrInUse
	case errors.Is(err, storage.ErrIdentity):
		return exitIdentity
	case errors.Is(err, storage.ErrCorrupt):
		return exitCorrupt
	case errors.Is(err, storage.ErrLocked):
		return exitLocked
	case errors.Is(err, errNoReplica):
		return exitNoReplica
	case errors.Is(err, errNoLeader):
		return exitNoLeader
	}
	return exitFailure
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, `paxlog is a Paxos-replicated, append-only log.

Usage:
  paxlog COMMAND [flags] [args]
  paxlog help [COMMAND]
  paxlog COMMAND --help

Commands:
`)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
Environment:
  Every flag can also be set with PAXLOG_<FLAG>, the flag name upper-cased
  with dashes as underscores (--log-level: PAXLOG_LOG_LEVEL, --addr:
  PAXLOG_ADDR). Precedence: a flag on the command line, then its
  environment variable, then the default shown below.

Exit codes:
`)
	for _, e := range exitCodes {
		fmt.Fprintf(w, "  %-4d %s\n", e.code, e.what)
	}
	fmt.Fprint(w, "\nFlags of every command:\n")
	for _, cmd := range commands {
		fmt.Fprintf(w, "\npaxlog %s %s\n", cmd.name, cmd.args)
		fmt.Fprint(w, newFlagSet(cmd, cmd.newRunner()).FlagUsages())
	}
}

func (c *cli) commandUsage(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "paxlog %s: %s\n\nUsage:\n  paxlog %s [flags] %s\n\nFlags (each also PAXLOG_<FLAG>; flag > environment > default):\n",
		cmd.name, cmd.summary, cmd.name, cmd.args)
	fmt.Fprint(w, newFlagSet(cmd, cmd.newRunner()).FlagUsages())
	fmt.Fprint(w, "\nExit codes:\n")
	for _, e := range exitCodes {
		fmt.Fprintf(w, "  %-4d %s\n", e.code, e.what)
	}
}
