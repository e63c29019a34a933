//go:build linux

package paxos

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user+system) this process used so far: the
// core's cost independent of how busy the machine is.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
