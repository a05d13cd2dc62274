package delivery

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzSigning checks, for arbitrary secrets, ids and payloads, that both
// signature schemes are what an independent HMAC over the documented bytes
// gives, and that the envelope around any compact JSON data is itself valid
// JSON that carries the data byte for byte.
func FuzzSigning(f *testing.F) {
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330), []byte(`{"test":2432232314}`))
	f.Add("plain-secret", "01a2250c-0396-71c1-851d-884245560a63", int64(0), []byte(`"<&>"`))
	f.Add("whsec_not*base64", "", int64(-1), []byte(`[1,2,{"a":null}]`))
	f.Fuzz(func(t *testing.T, secret, id string, ts int64, data []byte) {
		body := Envelope("message.new", time.Unix(0, 0), data)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		if got, want := SignatureHeader(secret, body), "sha256="+hexString(m.Sum(nil)); got != want {
			t.Fatalf("SignatureHeader = %s, want %s", got, want)
		}
		key := []byte(secret)
		if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
			if k, err := base64.StdEncoding.DecodeString(rest); err == nil {
				key = k
			}
		}
		m = hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
		m.Write(body)
		if got, want := StandardSignature(secret, id, ts, body), "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)); got != want {
			t.Fatalf("StandardSignature = %s, want %s", got, want)
		}

		var compact bytes.Buffer
		if json.Compact(&compact, data) != nil {
			return // the API only accepts valid JSON data
		}
		env := Envelope("message.new", time.Unix(0, 0), compact.Bytes())
		var parsed struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(env, &parsed); err != nil {
			t.Fatalf("envelope %q is not JSON: %v", env, err)
		}
		if !bytes.Equal(parsed.Data, compact.Bytes()) {
			t.Fatalf("data = %q, want %q byte for byte", parsed.Data, compact.Bytes())
		}
	})
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0xf]
	}
	return string(out)
}
