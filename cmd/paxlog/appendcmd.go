package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	replog "github.com/paxlog/paxlog/log"
)

// appendCmd appends its arguments, or the lines of stdin, and prints one
// index per entry.
type appendCmd struct {
	client clientFlags
	batch  int
	stdin  io.Reader // tests; default os.Stdin
}

func (a *appendCmd) flags(fs *pflag.FlagSet) {
	a.client.register(fs)
	fs.IntVar(&a.batch, "batch", 1, "entries per request (each is still its own entry with its own index)")
}

func (a *appendCmd) run(c *cli, fs *pflag.FlagSet) error {
	if a.batch < 1 {
		return usagef("--batch must be at least 1, got %d", a.batch)
	}
	cl, logger, err := a.client.client(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, stop := c.shutdownContext(logger)
	defer stop()
	out := bufio.NewWriter(c.stdout)
	defer out.Flush()
	send := func(batch [][]byte) error {
		idx, err := a.appendBatch(ctx, cl, batch)
		for _, i := range idx {
			fmt.Fprintln(out, i)
		}
		out.Flush()
		return a.client.explain(err)
	}
	if fs.NArg() > 0 {
		data := make([][]byte, 0, fs.NArg())
		for i, s := range fs.Args() {
			if s == "" {
				return usagef("argument %d is empty: entries cannot be empty", i+1)
			}
			data = append(data, []byte(s))
		}
		for len(data) > 0 {
			n := min(a.batch, len(data))
			if err := send(data[:n]); err != nil {
				return err
			}
			data = data[n:]
		}
		return nil
	}
	return a.appendLines(c, send)
}

// appendLines appends each non-empty line of stdin, a.batch lines at a time.
func (a *appendCmd) appendLines(c *cli, send func([][]byte) error) error {
	in := a.stdin
	if in == nil {
		in = os.Stdin
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), replog.DefaultMaxEntryBytes+1)
	var batch [][]byte
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(line) == 0 {
			continue
		}
		batch = append(batch, bytes.Clone(line))
		if len(batch) == a.batch {
			if err := send(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	if len(batch) > 0 {
		return send(batch)
	}
	return nil
}

// appendBatch appends within --timeout.
func (a *appendCmd) appendBatch(ctx context.Context, cl *replog.Client, data [][]byte) ([]uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.client.timeout)
	defer cancel()
	if len(data) == 1 {
		i, err := cl.Append(ctx, data[0])
		if err != nil {
			return nil, err
		}
		return []uint64{i}, nil
	}
	return cl.AppendBatch(ctx, data)
}
