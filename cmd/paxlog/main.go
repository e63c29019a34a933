package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main without the process: it parses args, runs one command and
// returns the exit code (see exitCodes in help.go).
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: os.Getenv, exit: os.Exit}
	return c.main(args)
}

// cli carries what every command needs from the process.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	exit           func(int) // a second signal exits through it at once
}

func (c *cli) main(args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			if cmd := lookup(args[1]); cmd != nil {
				c.commandUsage(c.stdout, cmd)
				return exitOK
			}
		}
		c.usage(c.stdout)
		return exitOK
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(c.stderr, "paxlog: unknown command %q (run 'paxlog help')\n", name)
		return exitUsage
	}
	err := c.runCommand(cmd, args[1:])
	if errors.Is(err, errHelpShown) {
		return exitOK
	}
	if err != nil {
		code := exitCode(err)
		fmt.Fprintf(c.stderr, "paxlog %s: %s\n", name, oneLine(err.Error()))
		if code == exitUsage {
			fmt.Fprintf(c.stderr, "run 'paxlog %s --help' for its flags\n", name)
		}
		return code
	}
	return exitOK
}

// oneLine keeps an error message on one line.
func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }
