package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rssSampler records the highest resident set size of this process seen
// every 20 ms while a benchmark runs (Linux /proc; 0 elsewhere).
type rssSampler struct {
	stopc chan struct{}
	done  chan float64
}

func startRSSSampler() *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan float64, 1)}
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		peak := rssMiB()
		for {
			select {
			case <-s.stopc:
				s.done <- max(peak, rssMiB())
				return
			case <-t.C:
				peak = max(peak, rssMiB())
			}
		}
	}()
	return s
}

// stop ends sampling and returns the peak in MiB.
func (s *rssSampler) stop() float64 {
	close(s.stopc)
	return <-s.done
}

// rssMiB reads VmRSS from /proc/self/status.
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeBytes is this process's bytes sent to the block layer so far
// (write_bytes of /proc/self/io; 0 where unavailable). Dirty pages written
// back later are counted when they are dirtied.
func writeBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			return v
		}
	}
	return 0
}
