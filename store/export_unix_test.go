//go:build unix

package store

// abandonUserChange counts a change begun in f as no longer in flight,
// without counting it done: Close then lets go of f's lock, as the death
// of the process that made the change would.
func abandonUserChange(f *userGenFile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes--
}
