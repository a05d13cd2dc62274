package filter

import (
	"strings"
	"testing"
)

// hugeSet is an $in operand as large as a filter may hold: 8,000 members.
func hugeSet(member string) string {
	return "[" + strings.TrimSuffix(strings.Repeat(member+",", 8000), ",") + "]"
}

// hugeArray is event data whose x is a 500,000-element array, 1 MiB.
func hugeArray(el string) string {
	return `{"x":[` + strings.TrimSuffix(strings.Repeat(el+",", 500_000), ",") + `]}`
}

// TestInScalarsAreLookedUp is the attack of a tenant whose filter holds an
// $in list of 8,000 scalars, matched against events whose data holds a
// 1 MiB array: each element was compared with each member, 4·10⁹ compares
// (18 s) per event and webhook, inside the publish's transaction, so that
// on SQLite every tenant's publishes waited. Scalar members are now a set
// looked up once per element: the clause keeps no list to scan.
func TestInScalarsAreLookedUp(t *testing.T) {
	f, err := Parse([]byte(`{"data.x": {"$nin": ` + hugeSet("1") + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	nin := f.root.kids[0].kids[0]
	if nin.op != opNin || len(nin.set) != 0 || len(nin.scalars) != 1 {
		t.Fatalf("$nin of 8,000 scalars: op %v, %d members to scan, %d in the set; want none to scan and one distinct in the set", nin.op, len(nin.set), len(nin.scalars))
	}
	if !f.Match(envelope(t, hugeArray("0"))) {
		t.Fatal("an array of zeros holds no 1, so $nin [1, …] must match")
	}
	if f.Match(envelope(t, `{"x":[0,0,1]}`)) {
		t.Fatal("an array holding 1 must not pass $nin [1, …]")
	}
}

// TestInSetMembership keeps $in's and $nin's meaning under the set: equal
// by JSON value and type (1 is not "1", -0 is 0), null and booleans as
// members, arrays and objects as members compared whole, and Explain still
// naming the operand as written.
func TestInSetMembership(t *testing.T) {
	cases := []struct {
		filter, data string
		want         bool
	}{
		{`{"data.v": {"$in": [1, "a", true, null]}}`, `{"v": 1.0}`, true},
		{`{"data.v": {"$in": [1, "a", true, null]}}`, `{"v": "1"}`, false},
		{`{"data.v": {"$in": [1, "a", true, null]}}`, `{"v": "a"}`, true},
		{`{"data.v": {"$in": [1, "a", true, null]}}`, `{"v": false}`, false},
		{`{"data.v": {"$in": [1, "a", true, null]}}`, `{"v": true}`, true},
		{`{"data.v": {"$in": [1, "a", true, null]}}`, `{"v": null}`, true},
		{`{"data.v": {"$in": [0]}}`, `{"v": -0}`, true},
		{`{"data.v": {"$in": [[1, 2], {"k": "x"}]}}`, `{"v": [1, 2]}`, true},
		{`{"data.v": {"$in": [[1, 2], {"k": "x"}]}}`, `{"v": {"k": "x"}}`, true},
		{`{"data.v": {"$in": [[1, 2], {"k": "x"}]}}`, `{"v": {"k": "y"}}`, false},
		{`{"data.v": {"$in": ["b", [1, 2]]}}`, `{"v": ["a", "b"]}`, true},
		{`{"data.v": {"$nin": ["b", 3]}}`, `{"v": ["a", "c"]}`, true},
		{`{"data.v": {"$nin": ["b", 3]}}`, `{"v": 3}`, false},
		{`{"data.v": {"$in": []}}`, `{"v": 3}`, false},
		{`{"data.v": {"$nin": []}}`, `{"v": 3}`, true},
	}
	for _, c := range cases {
		f, err := Parse([]byte(c.filter))
		if err != nil {
			t.Fatalf("Parse(%s): %v", c.filter, err)
		}
		if got := f.Match(envelope(t, c.data)); got != c.want {
			t.Errorf("%s on %s = %v, want %v", c.filter, c.data, got, c.want)
		}
	}
	f, err := Parse([]byte(`{"data.v": {"$in": ["a", 2, [1]]}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _, reason := f.Explain(envelope(t, `{"v": "z"}`))
	if want := `data.v is "z", not one of ["a",2,[1]]`; reason != want {
		t.Fatalf("Explain reason = %q, want %q", reason, want)
	}
}

// BenchmarkInHugeSet is TestInScalarsAreLookedUp's match: 18 s an event
// before $in's scalars became a set.
func BenchmarkInHugeSet(b *testing.B) {
	f, err := Parse([]byte(`{"data.x": {"$in": ` + hugeSet("1") + `}}`))
	if err != nil {
		b.Fatal(err)
	}
	env := envelope(b, hugeArray("0"))
	b.ResetTimer()
	for b.Loop() {
		f.Match(env)
	}
}
