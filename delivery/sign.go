package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/webhookd/webhookd/internal/wire"
)

// Envelope builds the body a receiver gets:
// {"event":…,"timestamp":…,"data":…} as compact JSON, with data copied
// byte for byte (it is already compact), so that JSON.stringify of the
// parsed body reproduces these bytes for ordinary payloads.
func Envelope(eventType string, at time.Time, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(eventType)+len(wire.TimeLayout)+40)
	b = append(b, `{"event":`...)
	b = appendJSONString(b, eventType)
	b = append(b, `,"timestamp":"`...)
	b = wire.AppendTime(b, at)
	b = append(b, `","data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// appendJSONString quotes s as JSON.stringify would for the ASCII event
// type names the catalogue allows, escaping quotes, backslashes and control
// characters.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// SignatureHeader is the seed's signature: "sha256=" and the hex
// HMAC-SHA256 of the raw body, keyed with the secret string's bytes.
func SignatureHeader(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// StandardKey is the Standard Webhooks signing key of a secret: the
// base64-decoded part after "whsec_", or the secret's raw bytes for any
// other secret.
func StandardKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return key
		}
	}
	return []byte(secret)
}

// StandardSignature is one Standard Webhooks signature entry:
// "v1," and the base64 HMAC-SHA256 of "id.timestamp.body".
func StandardSignature(secret, msgID string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, StandardKey(secret))
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
