package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkFsyncCost measures this machine's disk floor, with no store at
// all: one op is one 256-byte write and one fdatasync on each of writers
// files at once (writers=3 is the benchmark cluster's shape: three
// replicas on one disk, each fsyncing its own journal). file=growing
// appends, so the file's size changes and every fdatasync commits the
// file system's journal, as with any tidwall/wal segment; file=prewritten
// overwrites bytes already written and synced, so the size never changes
// (a log that preallocates and reuses its segment files). It reports the
// wall time of one op and the process CPU (user + system) per fdatasync:
// on a VM the system part is large and counts against the cores that run
// the replicas.
func BenchmarkFsyncCost(b *testing.B) {
	for _, writers := range []int{1, 3} {
		for _, pre := range []bool{false, true} {
			file := "growing"
			if pre {
				file = "prewritten"
			}
			b.Run(fmt.Sprintf("writers=%d/file=%s/size=256", writers, file), func(b *testing.B) {
				benchFsyncCost(b, writers, pre)
			})
		}
	}
}

func benchFsyncCost(b *testing.B, writers int, prewritten bool) {
	buf := make([]byte, 256)
	files := make([]*os.File, writers)
	for i := range files {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), fmt.Sprint("f", i)), os.O_CREATE|os.O_RDWR, 0o640)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if prewritten {
			if err := f.Truncate(0); err != nil {
				b.Fatal(err)
			}
			zero := make([]byte, 1<<20)
			for range (b.N*len(buf))>>20 + 1 {
				if _, err := f.Write(zero); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			if _, err := f.Seek(0, 0); err != nil {
				b.Fatal(err)
			}
		}
		files[i] = f
	}
	errs := make(chan error, writers)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range b.N {
				if _, err := f.Write(buf); err != nil {
					errs <- err
					return
				}
				if err := fdatasync(f); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*writers), "cpu-us/fsync")
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
