package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/spf13/pflag"

	replog "github.com/paxlog/paxlog/log"
)

// tailCmd prints entries with their index.
type tailCmd struct {
	client clientFlags
	from   uint64
	follow bool
	format string
}

func (t *tailCmd) flags(fs *pflag.FlagSet) {
	t.client.register(fs)
	fs.Uint64Var(&t.from, "from", 0, "first index to print (0: the first held)")
	fs.BoolVarP(&t.follow, "follow", "f", false, "keep waiting for new entries (like tail -f); without it, exit after the last entry")
	fs.StringVar(&t.format, "format", "text", "output: text (INDEX<TAB>DATA), json ({\"index\":N,\"data\":\"...\"}), raw (DATA only)")
}

func (t *tailCmd) run(c *cli, fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	print, err := entryPrinter(t.format)
	if err != nil {
		return err
	}
	cl, logger, err := t.client.client(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, stop := c.shutdownContext(logger)
	defer stop()
	var end uint64
	if !t.follow {
		cctx, cancel := context.WithTimeout(ctx, t.client.timeout)
		end, err = cl.CheckTail(cctx)
		cancel()
		if err != nil {
			return t.client.explain(err)
		}
		if end == 0 || end < t.from {
			return nil
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cl.Tail(sctx, t.from)
	if err != nil {
		return t.client.explain(err)
	}
	defer stream.Close()
	out := bufio.NewWriter(c.stdout)
	defer out.Flush()
	next := t.from
	for {
		idx, data, err := stream.Next()
		var te *replog.TrimmedError
		if err != nil && t.from == 0 && errors.As(err, &te) && te.First >= next {
			// "From the first held": a trim raced with the stream; go on
			// from the new first index.
			stream.Close()
			if stream, err = cl.Tail(sctx, te.First); err != nil {
				return t.client.explain(err)
			}
			defer stream.Close()
			continue
		}
		if err != nil {
			if ctx.Err() != nil { // interrupted: a clean end for --follow
				return nil
			}
			return t.client.explain(err)
		}
		next = idx + 1
		print(out, idx, data)
		if !t.follow && idx >= end {
			return nil
		}
		if t.follow {
			out.Flush()
		}
	}
}

// entryPrinter returns the printer of --format.
func entryPrinter(format string) (func(w io.Writer, idx uint64, data []byte), error) {
	switch format {
	case "text":
		return func(w io.Writer, idx uint64, data []byte) { fmt.Fprintf(w, "%d\t%s\n", idx, data) }, nil
	case "raw":
		return func(w io.Writer, _ uint64, data []byte) { w.Write(data); io.WriteString(w, "\n") }, nil
	case "json":
		return func(w io.Writer, idx uint64, data []byte) {
			rec := map[string]any{"index": idx}
			if utf8.Valid(data) {
				rec["data"] = string(data)
			} else {
				rec["data_base64"] = data // encoding/json writes []byte as base64
			}
			b, _ := json.Marshal(rec)
			w.Write(append(b, '\n'))
		}, nil
	}
	return nil, usagef("--format must be text, json or raw, got %q", format)
}
