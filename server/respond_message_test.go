package server

import "testing"

// TestInvalidMessageCountsErrors: the summary message names the first bad
// field and says how many more errors details holds, in words that cannot
// be read as part of the first error ("one of 'a', 'b' (and 1 more)" read
// as a third allowed value).
func TestInvalidMessageCountsErrors(t *testing.T) {
	one := FieldError{Field: "data/direction", Message: "value must be one of 'inbound', 'outbound'"}
	two := FieldError{Field: "data/messageId", Message: "got number, want string"}
	three := FieldError{Field: "data/type", Message: "got number, want string"}
	for _, c := range []struct {
		details []FieldError
		want    string
	}{
		{nil, "validation failed"},
		{[]FieldError{one}, "data/direction: value must be one of 'inbound', 'outbound'"},
		{[]FieldError{one, two}, "data/direction: value must be one of 'inbound', 'outbound' (and 1 more error in details)"},
		{[]FieldError{one, two, three}, "data/direction: value must be one of 'inbound', 'outbound' (and 2 more errors in details)"},
	} {
		e := invalid(c.details...)
		if e.Message != c.want {
			t.Errorf("%d details: message %q, want %q", len(c.details), e.Message, c.want)
		}
		if len(e.Details) != len(c.details) {
			t.Errorf("%d details: got %d in the body", len(c.details), len(e.Details))
		}
	}
}
