//go:build paxlogfaults

package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// This file exists only in binaries built with -tags paxlogfaults (the
// chaos harness, cmd/paxlog/internal/chaos). It arms faults in the store's
// file-system seam from the environment variable PAXLOG_STORAGE_FAULT, read
// when Options.FS is nil. The value is a comma-separated list of:
//
//	crash@N         at the Nth File.Sync, before syncing: truncate every segment
//	                file the store opened back to its size at its last
//	                successful sync (its size when first opened if none), at
//	                random keeping a torn prefix of the lost bytes, log
//	                "storage fault: crash point" and SIGKILL the process: a
//	                power failure that loses the page cache
//	fsync-eio@N     the Nth and every later File.Sync fails with EIO
//	fsync-enospc@N  ... with ENOSPC
//	write-eio@N     the Nth and every later segment write fails with EIO
//	write-enospc@N  ... with ENOSPC
//	crash-on-usr1   SIGUSR1 triggers the same crash at once (the harness
//	                power-fails the whole cluster this way)
//	lie-fsync       PLANTED BUG: segment syncs succeed without syncing, so
//	                the replica acknowledges what is not durable
//
// Syncs and writes are counted from the start of the process.
const faultEnv = "PAXLOG_STORAGE_FAULT"

func defaultFS(log hclog.Logger) FS {
	spec := os.Getenv(faultEnv)
	if spec == "" {
		return OSFS{}
	}
	f, err := parseEnvFaults(spec)
	if err != nil {
		log.Error("storage fault: ignoring a bad "+faultEnv, "spec", spec, "error", err)
		return OSFS{}
	}
	f.log = log
	log.Warn("storage fault: armed", "spec", spec)
	if f.onSignal {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGUSR1)
		go func() {
			<-ch
			f.crash(0)
		}()
	}
	return f
}

// envFaultFS is OSFS with the faults of one PAXLOG_STORAGE_FAULT value.
type envFaultFS struct {
	OSFS
	log hclog.Logger

	crashAt, syncErrAt, writeErrAt int
	syncErr, writeErr              error
	lie, onSignal                  bool

	mu      sync.Mutex
	syncs   int
	writes  int
	durable map[string]int64 // segment path -> bytes known durable
	rng     *rand.Rand
}

func parseEnvFaults(spec string) (*envFaultFS, error) {
	f := &envFaultFS{durable: map[string]int64{}, rng: rand.New(rand.NewPCG(uint64(os.Getpid()), 7))}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		switch part {
		case "lie-fsync":
			f.lie = true
			continue
		case "crash-on-usr1":
			f.onSignal = true
			continue
		}
		kind, at, ok := strings.Cut(part, "@")
		n, err := strconv.Atoi(at)
		if !ok || err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want KIND@N with N > 0", part)
		}
		switch kind {
		case "crash":
			f.crashAt = n
		case "fsync-eio":
			f.syncErrAt, f.syncErr = n, syscall.EIO
		case "fsync-enospc":
			f.syncErrAt, f.syncErr = n, syscall.ENOSPC
		case "write-eio":
			f.writeErrAt, f.writeErr = n, syscall.EIO
		case "write-enospc":
			f.writeErrAt, f.writeErr = n, syscall.ENOSPC
		default:
			return nil, fmt.Errorf("%q: unknown fault %q", part, kind)
		}
	}
	return f, nil
}

// OpenFile tracks read-only opens: the store opens every segment it
// fsyncs that way (tidwall/wal writes it through its own descriptor).
func (f *envFaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	track := flag == os.O_RDONLY
	if track {
		f.mu.Lock()
		if _, ok := f.durable[name]; !ok {
			if fi, err := os.Stat(name); err == nil {
				f.durable[name] = fi.Size()
			}
		}
		f.mu.Unlock()
	}
	return &envFaultFile{File: file, fs: f, name: name, track: track}, nil
}

// BeforeWrite fails segment writes from the armed count on.
func (f *envFaultFS) BeforeWrite(name string, n int) error {
	f.mu.Lock()
	f.writes++
	k := f.writes
	f.mu.Unlock()
	if f.writeErrAt > 0 && k >= f.writeErrAt {
		f.log.Error("storage fault: injected write error", "file", name, "write", k, "error", f.writeErr)
		return &os.PathError{Op: "write", Path: name, Err: f.writeErr}
	}
	return nil
}

type envFaultFile struct {
	File
	fs    *envFaultFS
	name  string
	track bool
}

func (ff *envFaultFile) Sync() error {
	f := ff.fs
	f.mu.Lock()
	f.syncs++
	n := f.syncs
	f.mu.Unlock()
	if f.crashAt > 0 && n >= f.crashAt {
		f.crash(n)
	}
	if f.syncErrAt > 0 && n >= f.syncErrAt {
		f.log.Error("storage fault: injected fsync error", "file", ff.name, "sync", n, "error", f.syncErr)
		return &os.PathError{Op: "fsync", Path: ff.name, Err: f.syncErr}
	}
	if f.lie && ff.track {
		return nil
	}
	if err := ff.File.Sync(); err != nil {
		return err
	}
	if ff.track {
		if fi, err := ff.File.Stat(); err == nil {
			f.mu.Lock()
			f.durable[ff.name] = fi.Size()
			f.mu.Unlock()
		}
	}
	return nil
}

// crash drops every tracked segment's unsynced bytes and kills the
// process; it does not return.
func (f *envFaultFS) crash(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for name, size := range f.durable {
		fi, err := os.Stat(name)
		if err != nil || fi.Size() <= size {
			continue
		}
		keep := size
		if f.rng.IntN(2) == 0 {
			keep += f.rng.Int64N(fi.Size() - size) // a torn prefix of the lost bytes survives
		}
		errs = append(errs, os.Truncate(name, keep))
		f.log.Error("storage fault: crash point drops unsynced bytes", "file", name, "durable", size,
			"kept", keep, "lost", fi.Size()-keep)
	}
	f.log.Error("storage fault: crash point: killing the process", "sync", n, "error", errors.Join(errs...))
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
