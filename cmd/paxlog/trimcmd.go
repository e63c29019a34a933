package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

// trimCmd drops a prefix of the log on every replica.
type trimCmd struct {
	client clientFlags
	before uint64
}

func (t *trimCmd) flags(fs *pflag.FlagSet) {
	t.client.register(fs)
	fs.Uint64Var(&t.before, "before", 0, "drop every entry with an index below this (required)")
}

func (t *trimCmd) run(c *cli, fs *pflag.FlagSet) error {
	if err := requireFlags(fs, "before"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if t.before == 0 {
		return usagef("--before must be at least 1")
	}
	cl, _, err := t.client.client(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), t.client.timeout)
	defer cancel()
	first, err := cl.Trim(ctx, t.before)
	if err != nil {
		return t.client.explain(err)
	}
	fmt.Fprintf(c.stdout, "first index now %d\n", first)
	return nil
}
