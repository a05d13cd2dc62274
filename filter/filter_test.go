package filter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/wire"
)

var at = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

const sample = `{"direction":"inbound","type":"text","channel":{"id":"ch_1","kind":"whatsapp"},
	"tags":["vip","new"],"count":3,"score":7.5,"assignee":null,
	"items":[{"sku":"a","qty":1},{"sku":"b","qty":5}],"text":"Hello there"}`

func envelope(t testing.TB, data string) *Envelope {
	t.Helper()
	e, err := NewEnvelope("message.new", at, []byte(data))
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	return e
}

func TestTimeLayoutIsWire(t *testing.T) {
	if TimeLayout != wire.TimeLayout {
		t.Fatalf("TimeLayout = %q, want wire.TimeLayout %q: a filter must see the timestamp receivers get", TimeLayout, wire.TimeLayout)
	}
}

func TestMatch(t *testing.T) {
	e := envelope(t, sample)
	tests := []struct {
		filter string
		want   bool
	}{
		{`{}`, true},
		{`{"event": "message.new"}`, true},
		{`{"event": "message.updated"}`, false},
		{`{"timestamp": "2024-01-01T12:00:00.000Z"}`, true},
		{`{"timestamp": {"$gte": "2024-01-01T00:00:00.000Z"}}`, true},
		{`{"data.direction": "inbound"}`, true},
		{`{"data.direction": "outbound"}`, false},
		{`{"data": {"direction": "inbound", "channel": {"kind": "whatsapp"}}}`, true},
		{`{"data": {"channel": {"kind": "sms"}}}`, false},
		{`{"data.channel.kind": "whatsapp"}`, true},
		{`{"data.channel": {"id": "ch_1", "kind": "whatsapp"}}`, true},
		{`{"data.channel": {"$eq": {"id": "ch_1", "kind": "whatsapp"}}}`, true},
		{`{"data.channel": {"$eq": {"id": "ch_1"}}}`, false},
		{`{"data.tags": "vip"}`, true},
		{`{"data.tags": "old"}`, false},
		{`{"data.tags": ["vip", "new"]}`, true},
		{`{"data.tags.0": "vip"}`, true},
		{`{"data.tags.1": "vip"}`, false},
		{`{"data.type": {"$in": ["text", "image"]}}`, true},
		{`{"data.type": {"$in": ["video"]}}`, false},
		{`{"data.type": {"$nin": ["video"]}}`, true},
		{`{"data.tags": {"$in": ["new"]}}`, true},
		{`{"data.tags": {"$nin": ["new"]}}`, false},
		{`{"data.type": {"$eq": "text"}}`, true},
		{`{"data.type": {"$neq": "text"}}`, false},
		{`{"data.missing": {"$neq": "text"}}`, true},
		{`{"data.count": 3}`, true},
		{`{"data.count": 3.0}`, true},
		{`{"data.count": "3"}`, false},
		{`{"data.count": {"$gt": 2}}`, true},
		{`{"data.count": {"$gt": 3}}`, false},
		{`{"data.count": {"$gte": 3, "$lte": 3}}`, true},
		{`{"data.score": {"$lt": 7.5}}`, false},
		{`{"data.count": {"$gt": "2"}}`, false},
		{`{"data.items.qty": {"$gt": 4}}`, true},
		{`{"data.items.sku": "b"}`, true},
		{`{"data.items.1.sku": "a"}`, false},
		{`{"data.assignee": null}`, true},
		{`{"data.assignee": {"$exist": true}}`, true},
		{`{"data.nobody": {"$exist": false}}`, true},
		{`{"data.nobody": {"$exist": true}}`, false},
		{`{"data.nobody": null}`, false},
		{`{"data.text": {"$regex": "^Hello"}}`, true},
		{`{"data.text": {"$regex": "(?i)THERE$"}}`, true},
		{`{"data.text": {"$regex": "^bye"}}`, false},
		{`{"data.count": {"$regex": "3"}}`, false},
		{`{"data.tags": {"$regex": "^v"}}`, true},
		{`{"$or": [{"data.type": "image"}, {"data.direction": "inbound"}]}`, true},
		{`{"$or": [{"data.type": "image"}, {"data.direction": "outbound"}]}`, false},
		{`{"$and": [{"data.type": "text"}, {"data.direction": "inbound"}]}`, true},
		{`{"$and": [{"data.type": "text"}, {"data.direction": "outbound"}]}`, false},
		{`{"$not": {"data.type": "text"}}`, false},
		{`{"data.type": {"$not": {"$in": ["image", "video"]}}}`, true},
		{`{"data": {"$or": [{"type": "image"}, {"channel.kind": "whatsapp"}]}}`, true},
		{`{"data.direction": "inbound", "data.type": {"$in": ["text", "image"]}}`, true},
	}
	for _, tt := range tests {
		f, err := Parse(json.RawMessage(tt.filter))
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.filter, err)
			continue
		}
		if got := f.Match(e); got != tt.want {
			t.Errorf("Match(%s) = %v, want %v", tt.filter, got, tt.want)
		}
		ok, failed, reason := f.Explain(e)
		if ok != tt.want {
			t.Errorf("Explain(%s) = %v, want %v", tt.filter, ok, tt.want)
		}
		if ok != (failed == "" && reason == "") {
			t.Errorf("Explain(%s) = %v, %q, %q: failed and reason must be set exactly when it does not match", tt.filter, ok, failed, reason)
		}
	}
}

func TestExplain(t *testing.T) {
	e := envelope(t, sample)
	tests := []struct{ filter, failed, reason string }{
		{`{"data.direction": "inbound", "data.type": {"$in": ["image", "video"]}}`, "data.type.$in", `data.type is "text", not one of ["image","video"]`},
		{`{"data": {"channel": {"kind": "sms"}}}`, "data.channel.kind", `data.channel.kind is "whatsapp", not "sms"`},
		{`{"data.nobody": {"$exist": true}}`, "data.nobody.$exist", "data.nobody is missing"},
		{`{"$or": [{"data.type": "image"}, {"event": "x"}]}`, "$or", "none of the 2 alternatives matched"},
		{`{"$and": [{"event": "message.new"}, {"data.count": {"$gt": 10}}]}`, "$and.1.data.count.$gt", "data.count is 3, not > 10"},
		{`{"$not": {"event": "message.new"}}`, "$not", "the negated filter matched"},
	}
	for _, tt := range tests {
		f, err := Parse(json.RawMessage(tt.filter))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.filter, err)
		}
		ok, failed, reason := f.Explain(e)
		if ok || failed != tt.failed || reason != tt.reason {
			t.Errorf("Explain(%s) = %v, %q, %q; want false, %q, %q", tt.filter, ok, failed, reason, tt.failed, tt.reason)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	var many strings.Builder
	many.WriteString("{")
	for i := range MaxClauses + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"data.f` + strings.Repeat("x", i) + `": 1`)
	}
	many.WriteString("}")
	big := `{"data.x": "` + strings.Repeat("a", MaxBytes) + `"}`
	tests := []struct{ filter, place, reason string }{
		{`[]`, "filter", "must be a JSON object"},
		{`"x"`, "filter", "must be a JSON object"},
		{`{"a":`, "filter", "is not valid JSON"},
		{`{} {}`, "filter", "is not valid JSON"},
		{`{"data.type": {"$within": [1]}}`, "filter.data.type.$within", "unknown operator"},
		{`{"data.type": {"$in": "text"}}`, "filter.data.type.$in", "must be an array"},
		{`{"data.type": {"$nin": {}}}`, "filter.data.type.$nin", "must be an array"},
		{`{"data.n": {"$gt": true}}`, "filter.data.n.$gt", "must be a number or a string"},
		{`{"data.n": {"$lte": [1]}}`, "filter.data.n.$lte", "must be a number or a string"},
		{`{"data.n": {"$exist": "yes"}}`, "filter.data.n.$exist", "must be true or false"},
		{`{"data.text": {"$regex": "(a"}}`, "filter.data.text.$regex", "not a valid RE2"},
		{`{"data.text": {"$regex": "(?=a)"}}`, "filter.data.text.$regex", "not a valid RE2"},
		{`{"data.text": {"$regex": 1}}`, "filter.data.text.$regex", "must be a string"},
		{`{"$or": []}`, "filter.$or", "non-empty array"},
		{`{"$and": [1]}`, "filter.$and.0", "must be a filter object"},
		{`{"$and": [{"data": {"x": {"$foo": 1}}}]}`, "filter.$and.0.data.x.$foo", "unknown operator"},
		{`{"$not": []}`, "filter.$not", "must be a filter object"},
		{`{"$eq": 1}`, "filter.$eq", "needs a path"},
		{`{"data..x": 1}`, "filter.data..x", "empty step"},
		{`{"": 1}`, "filter.", "empty path"},
		{deep, "filter", "deeper than the limit of 32"},
		{many.String(), "filter.data.f" + strings.Repeat("x", MaxClauses), "more than 64 clauses"},
		{big, "filter", "more than the limit of 16384"},
	}
	for _, tt := range tests {
		_, err := Parse(json.RawMessage(tt.filter))
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Parse(%.60s) = %v, want an *Error", tt.filter, err)
			continue
		}
		if fe.Place != tt.place || !strings.Contains(fe.Reason, tt.reason) {
			t.Errorf("Parse(%.60s) = %q: %q; want %q: …%s…", tt.filter, fe.Place, fe.Reason, tt.place, tt.reason)
		}
	}
}

func TestParseLimitsAreInclusive(t *testing.T) {
	deep := `{"data.x": {"$eq": ` + strings.Repeat(`[`, MaxDepth-2) + strings.Repeat(`]`, MaxDepth-2) + `}}`
	if _, err := Parse(json.RawMessage(deep)); err != nil {
		t.Fatalf("a filter nested exactly %d deep: %v", MaxDepth, err)
	}
	var b strings.Builder
	b.WriteString("{")
	for i := range MaxClauses {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"data.f` + strings.Repeat("x", i) + `": 1`)
	}
	b.WriteString("}")
	if _, err := Parse(json.RawMessage(b.String())); err != nil {
		t.Fatalf("a filter of exactly %d clauses: %v", MaxClauses, err)
	}
}

func TestRaw(t *testing.T) {
	f, err := Parse(json.RawMessage("{ \"data.a\" :\n 1 }"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.Raw()); got != `{"data.a":1}` {
		t.Fatalf("Raw() = %s, want the compacted document", got)
	}
	// The size limit is on the compacted document: indentation is free.
	indented := "{\n" + strings.Repeat(" ", MaxBytes) + "\"data.a\": 1}"
	if _, err := Parse(json.RawMessage(indented)); err != nil {
		t.Fatalf("an indented filter whose compact form is small: %v", err)
	}
}

func TestEnvelopeHugeNumbers(t *testing.T) {
	e := envelope(t, `{"n": 1e400, "m": -1e400, "k": 5}`)
	f, err := Parse(json.RawMessage(`{"data.n": {"$gt": 1e300}, "data.m": {"$lt": 0}, "data.k": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(e) {
		t.Fatal("numbers out of float64's range should compare as infinities")
	}
	if _, err := NewEnvelope("x", at, []byte(`{"a":`)); err == nil {
		t.Fatal("NewEnvelope accepted invalid JSON")
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	e := envelope(t, sample)
	f, err := Parse(json.RawMessage(fiveClauses))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(e) {
		t.Fatal("the benchmark filter should match the sample")
	}
	if n := testing.AllocsPerRun(100, func() { f.Match(e) }); n != 0 {
		t.Fatalf("Match allocates %v times per call, want 0", n)
	}
}

const fiveClauses = `{"event": "message.new", "data.direction": "inbound",
	"data.type": {"$in": ["text", "image"]}, "data.count": {"$gte": 1}, "data.text": {"$regex": "^Hello"}}`

func BenchmarkMatch5Clauses(b *testing.B) {
	e := envelope(b, sample)
	f, err := Parse(json.RawMessage(fiveClauses))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(e) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatch5ClausesFailFirst(b *testing.B) {
	e := envelope(b, sample)
	f, err := Parse(json.RawMessage(strings.Replace(fiveClauses, `"message.new"`, `"message.updated"`, 1)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if f.Match(e) {
			b.Fatal("match")
		}
	}
}

// BenchmarkEnvelopeAndMatch5Clauses is one event matched against one
// webhook including decoding the envelope: the cost when only one webhook
// of the event's tenant has a filter.
func BenchmarkEnvelopeAndMatch5Clauses(b *testing.B) {
	f, err := Parse(json.RawMessage(fiveClauses))
	if err != nil {
		b.Fatal(err)
	}
	data := []byte(sample)
	b.ReportAllocs()
	for b.Loop() {
		e, err := NewEnvelope("message.new", at, data)
		if err != nil || !f.Match(e) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParse5Clauses(b *testing.B) {
	doc := json.RawMessage(fiveClauses)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzFilterMatch parses arbitrary filters and matches them against
// arbitrary data: nothing may panic or hang, and Match and Explain agree.
func FuzzFilterMatch(f *testing.F) {
	f.Add(fiveClauses, sample)
	f.Add(`{"$or": [{"data.a": {"$gt": 1}}, {"$not": {"data.b.0": [1, {"x": null}]}}]}`, `{"a": [0, 2], "b": [[1, {"x": null}]]}`)
	f.Add(`{"data": {"a": {"b": {"$regex": "^(x|y)+$"}}}}`, `{"a": [{"b": "xyx"}, {"b": 1}]}`)
	f.Add(`{"data.n": {"$nin": [1e400, null]}, "timestamp": {"$lt": "3"}}`, `{"n": 1e400}`)
	f.Fuzz(func(t *testing.T, doc, data string) {
		flt, err := Parse(json.RawMessage(doc))
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Place, "filter") {
				t.Fatalf("Parse error %v does not name a place in the filter", err)
			}
			return
		}
		e, err := NewEnvelope("message.new", at, []byte(data))
		if err != nil {
			return
		}
		m := flt.Match(e)
		ok, failed, _ := flt.Explain(e)
		if m != ok {
			t.Fatalf("Match = %v but Explain = %v (%s)", m, ok, failed)
		}
		if _, err := Parse(flt.Raw()); err != nil {
			t.Fatalf("Raw() of a valid filter does not parse again: %v", err)
		}
	})
}
