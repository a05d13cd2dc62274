//go:build !unix

package store

// userGenFile is unavailable where shared mappings and advisory locks are
// not: there the SQLite user cache stays off (openUserGen returns nil).
type userGenFile struct{}

func openUserGen(string, bool) (*userGenFile, error) { return nil, nil }

func (f *userGenFile) begin() error               { return nil }
func (f *userGenFile) end()                       {}
func (f *userGenFile) generation() (uint64, bool) { return 0, false }
func (f *userGenFile) close()                     {}
