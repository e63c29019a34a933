package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// shutdownContext returns a context cancelled by the first SIGINT or
// SIGTERM (clean shutdown). A second signal exits at once with exitSignal
// through c.exit. stop releases the signal handler.
func (c *cli) shutdownContext(log hclog.Logger) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			log.Info("shutting down; signal again to exit at once", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-ch:
			log.Warn("second signal: exiting without a clean shutdown", "signal", s.String())
			c.exit(exitSignal)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}
