package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	replog "github.com/paxlog/paxlog/log"
	"github.com/paxlog/paxlog/paxos"
	"github.com/paxlog/paxlog/storage"
)

// failFS is the real file system whose fsyncs fail once fail is set.
type failFS struct {
	storage.OSFS
	fail *atomic.Bool
}

var errInjected = errors.New("injected fsync failure")

func (f failFS) OpenFile(name string, flag int, perm os.FileMode) (storage.File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return failFile{File: file, fail: f.fail}, nil
}

type failFile struct {
	storage.File
	fail *atomic.Bool
}

func (f failFile) Sync() error {
	if f.fail.Load() {
		return errInjected
	}
	return f.File.Sync()
}

// A replica whose fsync fails stops (fail-stop), and serve's loop then
// shuts down and returns the error instead of running on as a dead replica.
func TestServeExitsWhenStorageFails(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	var fail atomic.Bool
	rc := replicaConfig{ID: 1, Cluster: "c", Dir: t.TempDir(), Peers: map[paxos.NodeID]string{1: addr},
		Logger: nullLogger(), FS: failFS{fail: &fail}}
	c := &cli{stdout: &syncBuffer{}, stderr: &syncBuffer{}, getenv: func(string) string { return "" },
		exit: func(code int) { t.Errorf("exit(%d)", code) }}
	appended := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- runReplicas(c, nullLogger(), []replicaConfig{rc}, "", func(ctx context.Context, rs []*replica, _ *opsServer) {
			go func() {
				cl, err := replog.NewClient(replog.ClientConfig{ClusterID: "c", Addrs: []string{addr}})
				if err != nil {
					appended <- err
					return
				}
				defer cl.Close()
				actx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				if _, err := cl.Append(actx, []byte("ok")); err != nil {
					appended <- err
					return
				}
				fail.Store(true)
				_, err = cl.Append(actx, []byte("doomed"))
				appended <- err
			}()
		})
	}()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "storage failure in "+rc.Dir) {
			t.Fatalf("runReplicas returned %v, want the injected storage failure naming %s", err, rc.Dir)
		}
		if code := exitCode(err); code != exitFailure {
			t.Errorf("exit code %d, want %d", code, exitFailure)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve loop did not stop after the storage failure")
	}
	if err := <-appended; err == nil {
		t.Error("the append whose fsync failed was acknowledged")
	}
}
