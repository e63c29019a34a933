package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// runReplicas starts every replica of rcs (and the metrics server when
// metricsAddr is set), calls started once they run, then waits for SIGINT
// or SIGTERM and shuts everything down cleanly.
func runReplicas(c *cli, logger hclog.Logger, rcs []replicaConfig, metricsAddr string,
	started func(ctx context.Context, rs []*replica, ops *opsServer)) error {
	ctx, stop := c.shutdownContext(logger)
	defer stop()
	rs, ops, err := startAll(logger, rcs, metricsAddr)
	if err != nil {
		return err
	}
	if started != nil {
		started(ctx, rs, ops)
	}
	failed := make(chan error, len(rs))
	for _, r := range rs {
		ch, why := r.failed()
		go func() {
			select {
			case <-ch:
				failed <- why()
			case <-r.node.Done(): // any fatal error of the node, not only the store's writes
				if err := r.node.Err(); err != nil {
					failed <- fmt.Errorf("replica %d stopped (restart it; it recovers every acknowledged write): %w", r.cfg.ID, err)
				}
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-ctx.Done():
		return stopAll(logger, rs, ops)
	case err := <-failed:
		logger.Error("replica failed; shutting down", "error", err)
		stopAll(logger, rs, ops)
		return err
	}
}

// startAll starts the replicas and the metrics server; on an error it
// stops what it started.
func startAll(logger hclog.Logger, rcs []replicaConfig, metricsAddr string) ([]*replica, *opsServer, error) {
	var rs []*replica
	for _, rc := range rcs {
		r, err := startReplica(rc)
		if err != nil {
			stopAll(logger, rs, nil)
			return nil, nil, err
		}
		rs = append(rs, r)
	}
	if metricsAddr == "" {
		return rs, nil, nil
	}
	reg := newRegistry()
	for _, r := range rs {
		if err := r.register(reg); err != nil {
			stopAll(logger, rs, nil)
			return nil, nil, err
		}
	}
	ops, err := startOps(metricsAddr, reg, rs, logger)
	if err != nil {
		stopAll(logger, rs, nil)
		return nil, nil, err
	}
	logger.Info("serving metrics", "addr", ops.Addr(), "paths", "/metrics /healthz /readyz")
	return rs, ops, nil
}

// stopAll closes the metrics server, then every replica in parallel.
func stopAll(logger hclog.Logger, rs []*replica, ops *opsServer) error {
	if ops != nil {
		ops.Close()
	}
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.Close()
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil {
		logger.Error("shutdown", "error", err)
	} else if len(rs) > 0 {
		logger.Info("stopped cleanly")
	}
	return err
}
