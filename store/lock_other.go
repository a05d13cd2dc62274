//go:build !unix

package store

// fileLock is a no-op where advisory file locks are not available.
type fileLock struct{}

func lockFile(string) (*fileLock, error) { return &fileLock{}, nil }

func (l *fileLock) release() {}
