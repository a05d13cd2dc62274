package store

import (
	"testing"
	"time"
)

// TestLogIDsOfOneMillisecondSortInOrder checks that log ids made in one
// millisecond sort in the order they were made, so that a list newest
// first by id is newest first by creation (server TestLogs saw two test
// sends of one millisecond listed the wrong way round); and that every id
// still carries its created_at's millisecond.
func TestLogIDsOfOneMillisecondSortInOrder(t *testing.T) {
	at := time.Now().Add(time.Hour) // newer than any id made so far
	prev := ""
	for i := range 4096 {
		id := logID(at)
		if id <= prev {
			t.Fatalf("id %d %s sorts at or before the one made before it, %s", i, id, prev)
		}
		if lo, hi := idBound(at), idBound(at.Add(time.Millisecond)); id < lo || id >= hi {
			t.Fatalf("id %s is outside its millisecond [%s, %s)", id, lo, hi)
		}
		prev = id
	}
	// An older millisecond keeps random bits but still its own time.
	old := at.Add(-time.Minute)
	if id := logID(old); id < idBound(old) || id >= idBound(old.Add(time.Millisecond)) {
		t.Fatalf("id %s of an older millisecond is outside it", id)
	}
}
