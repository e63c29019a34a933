package storage

import (
	"io"
	"os"
)

// FS is the file-system seam. The store does every file operation of its
// own through it: identity, meta and checkpoint files, the segment scan and
// torn-tail repair, every fsync of a segment file (tidwall/wal is opened
// with NoSync and the store fsyncs the segment through its own descriptor),
// and every directory fsync. tidwall/wal itself writes segments with the
// os package; BeforeWrite lets a test fail such a write before any byte of
// it is written.
//
// Implementations must be safe for concurrent use.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	ReadFile(name string) ([]byte, error)
	ReadDir(name string) ([]os.DirEntry, error)
	MkdirAll(name string, perm os.FileMode) error
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldname, newname string) error
	Truncate(name string, size int64) error
	// SyncDir fsyncs a directory so that file creations, renames and
	// removals in it are durable.
	SyncDir(name string) error
	// BeforeWrite is called before tidwall/wal appends n bytes to the
	// segment file name; an error fails that write (nothing is written)
	// and poisons the store. The OS implementation returns nil.
	BeforeWrite(name string, n int) error
}

// File is an open file of an FS.
type File interface {
	io.Writer
	io.Closer
	// Sync makes the file's written data durable (fdatasync on Linux).
	Sync() error
	Stat() (os.FileInfo, error)
	Name() string
}

// OSFS is the operating system's file system.
type OSFS struct{}

type osFile struct{ *os.File }

func (f osFile) Sync() error { return fdatasync(f.File) }

// OpenFile opens name with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// ReadFile reads a whole file.
func (OSFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// ReadDir lists a directory sorted by name.
func (OSFS) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }

// MkdirAll creates a directory and its parents.
func (OSFS) MkdirAll(name string, perm os.FileMode) error { return os.MkdirAll(name, perm) }

// Remove removes a file or empty directory.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// RemoveAll removes a tree.
func (OSFS) RemoveAll(name string) error { return os.RemoveAll(name) }

// Rename renames a file.
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// Truncate changes a file's size.
func (OSFS) Truncate(name string, size int64) error { return os.Truncate(name, size) }

// SyncDir fsyncs a directory.
func (OSFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// BeforeWrite allows every write.
func (OSFS) BeforeWrite(string, int) error { return nil }
