package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paxlog/paxlog/paxos"
)

// TestIdentity: a data directory of another cluster or node is refused
// with an error naming both identities; so is a journal without identity.
func TestIdentity(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, ClusterID: "alpha", NodeID: 1}
	s := mustOpen(t, o)
	if err := s.Persist([]paxos.Record{acceptRec(1, 1)}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	for _, bad := range []Options{
		{Dir: dir, ClusterID: "beta", NodeID: 1},
		{Dir: dir, ClusterID: "alpha", NodeID: 2},
	} {
		_, err := Open(bad)
		if !errors.Is(err, ErrIdentity) {
			t.Fatalf("open as %s/%d: %v, want ErrIdentity", bad.ClusterID, bad.NodeID, err)
		}
		for _, want := range []string{`cluster "alpha" node 1`, `cluster "` + bad.ClusterID + `"`, dir} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	}
	s = mustOpen(t, o) // the right identity still opens
	if _, err := Open(o); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open of a directory in use: %v, want ErrLocked", err)
	}
	mustClose(t, s)

	if err := os.Remove(filepath.Join(dir, identityFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(o); !errors.Is(err, ErrIdentity) {
		t.Fatalf("journal without identity: %v, want ErrIdentity", err)
	}
	if err := os.WriteFile(filepath.Join(dir, identityFile), []byte("garbage!garbage!"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(o); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged identity file: %v, want ErrCorrupt", err)
	}
}
