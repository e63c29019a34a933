package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"

	replog "github.com/paxlog/paxlog/log"
)

// benchCmd is a load generator: --clients goroutines, each with its own
// Client (its own exactly-once identity), append --batch entries of --size
// bytes per request until --duration passes or --count entries are in.
type benchCmd struct {
	client   clientFlags
	clients  int
	size     int
	duration time.Duration
	count    int64
	batch    int
	interval time.Duration
}

func (b *benchCmd) flags(fs *pflag.FlagSet) {
	b.client.register(fs)
	fs.IntVar(&b.clients, "clients", 64, "concurrent clients, each with one request in flight")
	fs.IntVar(&b.size, "size", 256, "bytes per entry")
	fs.DurationVar(&b.duration, "duration", 30*time.Second, "run this long (ignored when --count is set)")
	fs.Int64Var(&b.count, "count", 0, "append this many entries, then stop (0: use --duration)")
	fs.IntVar(&b.batch, "batch", 1, "entries per request")
	fs.DurationVar(&b.interval, "interval", time.Second, "progress report period")
}

// benchState is shared by the workers and the reporter.
type benchState struct {
	mu      sync.Mutex
	hist    *hdrhistogram.Histogram // request latency, microseconds
	entries atomic.Int64            // appended (acknowledged)
	claimed atomic.Int64            // claimed by workers (with --count)
}

func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(5*time.Minute/time.Microsecond), 3)
}

func (b *benchCmd) run(c *cli, fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if b.clients < 1 || b.size < 1 || b.batch < 1 || b.count < 0 || b.interval <= 0 || (b.count == 0 && b.duration <= 0) {
		return usagef("--clients, --size, --batch, --interval and --duration (or --count) must be positive")
	}
	if b.size > replog.DefaultMaxEntryBytes {
		return usagef("--size %d above the %d-byte entry limit", b.size, replog.DefaultMaxEntryBytes)
	}
	logger, err := b.client.log.logger(c)
	if err != nil {
		return err
	}
	ctx, stop := c.shutdownContext(logger)
	defer stop()
	if b.count == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.duration)
		defer cancel()
	}
	st := &benchState{hist: newLatencyHistogram()}
	fmt.Fprintf(c.stdout, "bench: %d clients, %d-byte entries, batch %d, %s against %s\n",
		b.clients, b.size, b.batch, b.limit(), strings.Join(b.client.addrs, ","))
	start := time.Now()
	repDone := make(chan struct{})
	repStop := make(chan struct{})
	go func() { defer close(repDone); b.report(c.stdout, st, start, repStop) }()
	err = b.load(ctx, c, st)
	close(repStop)
	<-repDone
	elapsed := time.Since(start)
	b.summary(c.stdout, st, elapsed)
	return err
}

func (b *benchCmd) limit() string {
	if b.count > 0 {
		return fmt.Sprintf("%d entries", b.count)
	}
	return b.duration.String()
}

// load runs the workers until ctx ends or the count is reached; the first
// error other than the end of the run stops every worker.
func (b *benchCmd) load(ctx context.Context, c *cli, st *benchState) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range b.clients {
		cl, _, err := b.client.client(c)
		if err != nil {
			cancel(err)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			if err := b.worker(ctx, cl, st); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return b.client.explain(err)
	}
	return nil
}

func (b *benchCmd) worker(ctx context.Context, cl *replog.Client, st *benchState) error {
	payload := make([]byte, b.size)
	rand.Read(payload)
	data := make([][]byte, b.batch)
	for i := range data {
		data[i] = payload
	}
	for ctx.Err() == nil {
		n := int64(b.batch)
		if b.count > 0 {
			left := b.count - st.claimed.Add(n) + n
			if left <= 0 {
				return nil
			}
			n = min(n, left)
		}
		rctx, cancel := context.WithTimeout(ctx, b.client.timeout)
		t0 := time.Now()
		_, err := cl.AppendBatch(rctx, data[:n])
		lat := time.Since(t0)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		st.entries.Add(n)
		st.mu.Lock()
		st.hist.RecordValue(max(1, lat.Microseconds()))
		st.mu.Unlock()
	}
	return nil
}

// report prints progress every --interval: one rewritten line on a
// terminal, plain lines otherwise.
func (b *benchCmd) report(w io.Writer, st *benchState, start time.Time, stop <-chan struct{}) {
	tty := isTerminal(w)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	var last int64
	lastT := start
	for {
		select {
		case <-stop:
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			return
		case now := <-t.C:
			n := st.entries.Load()
			st.mu.Lock()
			p50, p99 := st.hist.ValueAtQuantile(50), st.hist.ValueAtQuantile(99)
			st.mu.Unlock()
			rate := float64(n-last) / now.Sub(lastT).Seconds()
			last, lastT = n, now
			line := fmt.Sprintf("%6.1fs  %d entries  %.0f ops/s  p50 %s  p99 %s",
				now.Sub(start).Seconds(), n, rate, usec(p50), usec(p99))
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// summary prints throughput and the latency distribution.
func (b *benchCmd) summary(w io.Writer, st *benchState, elapsed time.Duration) {
	n := st.entries.Load()
	secs := elapsed.Seconds()
	fmt.Fprintf(w, "appended %d entries in %.2fs: %.1f ops/s, %.2f MB/s\n",
		n, secs, float64(n)/secs, float64(n)*float64(b.size)/secs/1e6)
	h := st.hist
	if h.TotalCount() == 0 {
		return
	}
	fmt.Fprintf(w, "request latency (%d requests of %d entries):\n", h.TotalCount(), b.batch)
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}} {
		fmt.Fprintf(w, "  %-6s %s\n", q.name, usec(h.ValueAtQuantile(q.q)))
	}
	fmt.Fprintf(w, "  %-6s %s\n", "max", usec(h.Max()))
	printBars(w, h)
}

// printBars draws the latency histogram in power-of-two buckets.
func printBars(w io.Writer, h *hdrhistogram.Histogram) {
	var upper []int64
	for u := int64(128); ; u *= 2 {
		upper = append(upper, u)
		if u >= h.Max() {
			break
		}
	}
	counts := make([]int64, len(upper))
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		i := 0
		for i < len(upper)-1 && bar.From >= upper[i] {
			i++
		}
		counts[i] += bar.Count
	}
	var peak int64
	for _, c := range counts {
		peak = max(peak, c)
	}
	fmt.Fprintln(w, "histogram:")
	for i, c := range counts {
		if c == 0 {
			continue
		}
		fmt.Fprintf(w, "  <= %-9s %8d  %s\n", usec(upper[i]), c, strings.Repeat("#", int(1+39*c/peak)))
	}
}

// usec formats a microsecond value.
func usec(v int64) string {
	return (time.Duration(v) * time.Microsecond).String()
}
