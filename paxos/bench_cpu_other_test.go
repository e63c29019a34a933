//go:build !linux

package paxos

import "time"

// processCPU is unknown here; the benchmark then skips the CPU metric.
func processCPU() time.Duration { return 0 }
