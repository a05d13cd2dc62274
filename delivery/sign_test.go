package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSignatureHeader(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		body   string
		want   string // "" to compute independently
	}{
		// A widely published known answer, so the test does not only
		// agree with its own HMAC computation.
		{"known answer", "key", "The quick brown fox jumps over the lazy dog",
			"sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"},
		{"seed secret", "your-webhook-secret", `{"event":"message.new","timestamp":"2024-01-01T12:00:00.000Z","data":{"id":"msg_1"}}`, ""},
		// The seed's scheme keys with the secret string's bytes, even for a
		// whsec_ secret that Standard Webhooks would decode.
		{"whsec secret used as text", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", `{"a":1}`, ""},
		{"empty body", "s", "", ""},
		{"unicode body", "s", `{"name":"Zoë ✓ <b>&</b>"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				m := hmac.New(sha256.New, []byte(tt.secret))
				m.Write([]byte(tt.body))
				want = "sha256=" + hex.EncodeToString(m.Sum(nil))
			}
			if got := SignatureHeader(tt.secret, []byte(tt.body)); got != want {
				t.Errorf("SignatureHeader(%q, %q) = %q, want %q", tt.secret, tt.body, got, want)
			}
		})
	}
}

// standardVector is testdata/standard-webhooks-vector.json.
type standardVector struct {
	Secret    string `json:"secret"`
	MsgID     string `json:"msgId"`
	Timestamp int64  `json:"timestamp"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

func readStandardVector(t testing.TB) standardVector {
	t.Helper()
	path := filepath.Join("..", "testdata", "standard-webhooks-vector.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var v standardVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if v.Secret == "" || v.MsgID == "" || v.Timestamp == 0 || v.Payload == "" || v.Signature == "" {
		t.Fatalf("%s is missing a field: %+v", path, v)
	}
	return v
}

func TestStandardSignatureVector(t *testing.T) {
	v := readStandardVector(t)
	if got := StandardSignature(v.Secret, v.MsgID, v.Timestamp, []byte(v.Payload)); got != v.Signature {
		t.Errorf("StandardSignature(specification vector) = %q, want %q", got, v.Signature)
	}
}

func TestStandardSignature(t *testing.T) {
	const (
		msgID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts    = int64(1614265330)
		body  = `{"test": 2432232314}`
	)
	whsecKey, err := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		secret  string
		wantKey []byte
	}{
		{"whsec secret is base64-decoded", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", whsecKey},
		{"other secret is raw bytes", "your-webhook-secret", []byte("your-webhook-secret")},
		{"base64-looking secret without prefix is raw bytes", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", []byte("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")},
		{"whsec with invalid base64 is raw bytes", "whsec_not base64!", []byte("whsec_not base64!")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StandardKey(tt.secret); !hmac.Equal(got, tt.wantKey) {
				t.Errorf("StandardKey(%q) = %q, want %q", tt.secret, got, tt.wantKey)
			}
			m := hmac.New(sha256.New, tt.wantKey)
			m.Write([]byte(msgID + ".1614265330." + body))
			want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
			if got := StandardSignature(tt.secret, msgID, ts, []byte(body)); got != want {
				t.Errorf("StandardSignature(%q, …) = %q, want %q", tt.secret, got, want)
			}
		})
	}
}

func TestEnvelope(t *testing.T) {
	noon := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		eventType string
		at        time.Time
		data      string
		want      string
	}{
		{"seed example", "message.new", noon, `{"messageId":"msg_1","text":"hi"}`,
			`{"event":"message.new","timestamp":"2024-01-01T12:00:00.000Z","data":{"messageId":"msg_1","text":"hi"}}`},
		{"key order kept", "message.new", noon, `{"z":1,"a":2,"m":{"y":true,"b":null}}`,
			`{"event":"message.new","timestamp":"2024-01-01T12:00:00.000Z","data":{"z":1,"a":2,"m":{"y":true,"b":null}}}`},
		{"no HTML escaping", "message.new", noon, `{"html":"<b>Tom & Jerry</b>"}`,
			`{"event":"message.new","timestamp":"2024-01-01T12:00:00.000Z","data":{"html":"<b>Tom & Jerry</b>"}}`},
		{"unicode kept", "message.new", noon, `{"name":"Zoë 日本 ✓ 🎉"}`,
			`{"event":"message.new","timestamp":"2024-01-01T12:00:00.000Z","data":{"name":"Zoë 日本 ✓ 🎉"}}`},
		{"escapes kept as sent", "message.new", noon, `{"s":"a\"b\\c\n\u00e9"}`,
			`{"event":"message.new","timestamp":"2024-01-01T12:00:00.000Z","data":{"s":"a\"b\\c\n\u00e9"}}`},
		{"array data", "campaign.started", noon, `[1,"two",{"three":3}]`,
			`{"event":"campaign.started","timestamp":"2024-01-01T12:00:00.000Z","data":[1,"two",{"three":3}]}`},
		{"scalar data", "campaign.started", noon, `42`,
			`{"event":"campaign.started","timestamp":"2024-01-01T12:00:00.000Z","data":42}`},
		{"null data", "campaign.started", noon, `null`,
			`{"event":"campaign.started","timestamp":"2024-01-01T12:00:00.000Z","data":null}`},
		{"timestamp in UTC, milliseconds, truncated", "message.new",
			time.Date(2024, 1, 1, 13, 0, 0, 123_987_654, time.FixedZone("CET", 3600)), `{}`,
			`{"event":"message.new","timestamp":"2024-01-01T12:00:00.123Z","data":{}}`},
		{"event type quoted", `odd"type\`, noon, `{}`,
			`{"event":"odd\"type\\","timestamp":"2024-01-01T12:00:00.000Z","data":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Envelope(tt.eventType, tt.at, []byte(tt.data))
			if string(got) != tt.want {
				t.Errorf("Envelope() =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Envelope() is not valid JSON: %s", got)
			}
		})
	}
}
