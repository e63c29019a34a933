//go:build !linux

package storage

// dirLock is a no-op outside Linux.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() {}
