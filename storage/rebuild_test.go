package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRebuildingFlag: Open marks a directory it creates as rebuilding;
// the flag survives reopening until MarkRebuilt clears it durably.
func TestRebuildingFlag(t *testing.T) {
	o := testOpts(t.TempDir())
	s := mustOpen(t, o)
	if !s.Rebuilding() {
		t.Fatal("a new data directory is not rebuilding")
	}
	mustClose(t, s)
	s = mustOpen(t, o)
	if !s.Rebuilding() {
		t.Fatal("rebuilding flag lost on reopen")
	}
	if err := s.MarkRebuilt(); err != nil {
		t.Fatal(err)
	}
	if s.Rebuilding() {
		t.Fatal("still rebuilding after MarkRebuilt")
	}
	if err := s.MarkRebuilt(); err != nil {
		t.Fatalf("second MarkRebuilt: %v", err)
	}
	mustClose(t, s)
	s = mustOpen(t, o)
	defer mustClose(t, s)
	if s.Rebuilding() {
		t.Fatal("MarkRebuilt did not last across reopen")
	}
}

// TestRebuildingOldDirectory: an identity file written before the flag
// existed (seq 0) reads as not rebuilding.
func TestRebuildingOldDirectory(t *testing.T) {
	o := testOpts(t.TempDir())
	if err := os.WriteFile(filepath.Join(o.Dir, identityFile), encodeIdentity(o.ClusterID, o.NodeID), 0o640); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, o)
	defer mustClose(t, s)
	if s.Rebuilding() {
		t.Fatal("a directory written before the rebuilding flag reads as rebuilding")
	}
}

// TestMarkRebuiltFailurePoisons: a failed rewrite of the identity file
// poisons the store and leaves the directory rebuilding.
func TestMarkRebuiltFailurePoisons(t *testing.T) {
	fsys := newFaultFS()
	o := testOpts(t.TempDir())
	o.FS = fsys
	s := mustOpen(t, o)
	fsys.mu.Lock()
	fsys.failSync = func(p string) bool { return strings.Contains(p, identityFile) }
	fsys.mu.Unlock()
	if err := s.MarkRebuilt(); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("MarkRebuilt with a failing fsync: %v, want ErrPoisoned", err)
	}
	if !s.Rebuilding() {
		t.Fatal("flag cleared although the rewrite failed")
	}
	if err := s.Sync(); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("sync after the failure: %v, want ErrPoisoned", err)
	}
	s.Close()
	o.FS = nil
	s = mustOpen(t, o)
	defer mustClose(t, s)
	if !s.Rebuilding() {
		t.Fatal("after a failed MarkRebuilt the directory reopens not rebuilding")
	}
}
