package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// seedCreateBody is the seed's create curl's body, byte for byte.
const seedCreateBody = `{
    "name": "My First Webhook",
    "url": "https://webhook.site/your-unique-id",
    "events": ["message.new", "conversation.created"]
  }`

func TestWebhookCRUD(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")

		resp := s.call(t, http.MethodPost, "/api/v1/webhooks", token, rawBody(seedCreateBody), http.StatusCreated, nil)
		var fields map[string]any
		decodeJSON(t, resp, &fields)
		for _, k := range []string{"id", "name", "url", "events", "secret", "isActive", "description", "createdAt", "updatedAt"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("create answer lacks %q: %s", k, resp.Body)
			}
		}
		var created webhookJSON
		decodeJSON(t, resp, &created)
		if created.Name != "My First Webhook" || created.URL != "https://webhook.site/your-unique-id" ||
			!slices.Equal(created.Events, []string{"message.new", "conversation.created"}) {
			t.Errorf("created = %+v, want the seed's name, url and events", created)
		}
		if !created.IsActive {
			t.Error("isActive = false, want true by default")
		}
		if created.Description != "" {
			t.Errorf("description = %q, want empty", created.Description)
		}
		rest, ok := strings.CutPrefix(created.Secret, "whsec_")
		if !ok {
			t.Fatalf("secret = %q, want a whsec_ secret", created.Secret)
		}
		if b, err := base64.StdEncoding.DecodeString(rest); err != nil || len(b) != 32 {
			t.Errorf("secret = %q: want whsec_ + base64 of 32 bytes (decoded %d bytes, err %v)", created.Secret, len(b), err)
		}
		wantRecent(t, "createdAt", &created.CreatedAt)
		if created.UpdatedAt != created.CreatedAt {
			t.Errorf("updatedAt = %s, want createdAt %s", created.UpdatedAt, created.CreatedAt)
		}
		if loc := resp.Header.Get("Location"); loc != "/api/v1/webhooks/"+created.ID {
			t.Errorf("Location = %q, want /api/v1/webhooks/%s", loc, created.ID)
		}

		t.Run("secrets differ", func(t *testing.T) {
			other := s.createWebhook(t, token, map[string]any{"name": "second", "url": "http://example.com", "events": []string{"*"}})
			if other.Secret == created.Secret {
				t.Errorf("two webhooks got the same generated secret %q", other.Secret)
			}
			s.call(t, http.MethodDelete, "/api/v1/webhooks/"+other.ID, token, nil, http.StatusNoContent, nil)
		})

		t.Run("get shows the full secret", func(t *testing.T) {
			var got webhookJSON
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+created.ID, token, nil, http.StatusOK, &got)
			if !reflect.DeepEqual(got, created) {
				t.Errorf("GET = %+v, want %+v", got, created)
			}
		})

		t.Run("list masks the secret", func(t *testing.T) {
			var p page[webhookJSON]
			resp := s.call(t, http.MethodGet, "/api/v1/webhooks", token, nil, http.StatusOK, &p)
			if len(p.Data) != 1 || p.NextCursor != nil {
				t.Fatalf("list = %s, want the one webhook and no next cursor", resp.Body)
			}
			got := p.Data[0]
			if strings.Contains(string(resp.Body), created.Secret) || got.Secret == created.Secret {
				t.Errorf("list shows the full secret: %s", resp.Body)
			}
			if !strings.HasPrefix(got.Secret, "whsec_") || !strings.Contains(got.Secret, "*") {
				t.Errorf("listed secret = %q, want a masked whsec_ secret", got.Secret)
			}
			got.Secret = created.Secret
			if !reflect.DeepEqual(got, created) {
				t.Errorf("listed = %+v, want %+v apart from the secret", got, created)
			}
		})

		t.Run("create with every field", func(t *testing.T) {
			secret := "my-own-secret-123"
			w := s.createWebhook(t, token, map[string]any{
				"name": "  padded  ", "url": "http://127.0.0.1:9/x?y=1", "events": []string{"message.*", "*", "message.*"},
				"secret": secret, "description": "for the <CRM> & co", "isActive": false,
			})
			want := webhookJSON{ID: w.ID, Name: "padded", URL: "http://127.0.0.1:9/x?y=1", Events: []string{"message.*", "*"},
				Secret: secret, IsActive: false, Description: "for the <CRM> & co", Filter: []byte("null"), CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
			if !reflect.DeepEqual(w, want) {
				t.Errorf("created = %+v, want %+v", w, want)
			}
			s.call(t, http.MethodDelete, "/api/v1/webhooks/"+w.ID, token, nil, http.StatusNoContent, nil)
		})

		t.Run("partial updates", func(t *testing.T) {
			cur := created
			tests := []struct {
				method string
				body   string
				change func(w *webhookJSON)
			}{
				{http.MethodPatch, `{"name":"Renamed"}`, func(w *webhookJSON) { w.Name = "Renamed" }},
				{http.MethodPatch, `{"url":"https://example.com/new"}`, func(w *webhookJSON) { w.URL = "https://example.com/new" }},
				{http.MethodPatch, `{"events":["*"]}`, func(w *webhookJSON) { w.Events = []string{"*"} }},
				{http.MethodPatch, `{"events":["message.*","campaign.started","message.*"]}`, func(w *webhookJSON) {
					w.Events = []string{"message.*", "campaign.started"}
				}},
				{http.MethodPatch, `{"secret":"a-chosen-secret-1"}`, func(w *webhookJSON) { w.Secret = "a-chosen-secret-1" }},
				{http.MethodPatch, `{"description":"described"}`, func(w *webhookJSON) { w.Description = "described" }},
				{http.MethodPatch, `{"isActive":false}`, func(w *webhookJSON) { w.IsActive = false }},
				{http.MethodPatch, `{"isActive":true}`, func(w *webhookJSON) { w.IsActive = true }},
				{http.MethodPatch, `{"description":""}`, func(w *webhookJSON) { w.Description = "" }},
				{http.MethodPatch, `{}`, func(*webhookJSON) {}},
				{http.MethodPut, `{"name":"Via PUT"}`, func(w *webhookJSON) { w.Name = "Via PUT" }},
				{http.MethodPut, `{"name":"Both","isActive":false}`, func(w *webhookJSON) { w.Name, w.IsActive = "Both", false }},
			}
			for _, tt := range tests {
				var got webhookJSON
				s.call(t, tt.method, "/api/v1/webhooks/"+created.ID, token, rawBody(tt.body), http.StatusOK, &got)
				want := cur
				tt.change(&want)
				if parseTime(t, "updatedAt", got.UpdatedAt).Before(parseTime(t, "updatedAt", cur.UpdatedAt)) {
					t.Errorf("%s %s: updatedAt went back from %s to %s", tt.method, tt.body, cur.UpdatedAt, got.UpdatedAt)
				}
				want.UpdatedAt = got.UpdatedAt
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s:\n got %+v\nwant %+v", tt.method, tt.body, got, want)
				}
				var stored webhookJSON
				s.call(t, http.MethodGet, "/api/v1/webhooks/"+created.ID, token, nil, http.StatusOK, &stored)
				if !reflect.DeepEqual(stored, got) {
					t.Errorf("%s %s: GET after = %+v, want %+v", tt.method, tt.body, stored, got)
				}
				cur = got
			}
		})

		t.Run("delete", func(t *testing.T) {
			resp := s.call(t, http.MethodDelete, "/api/v1/webhooks/"+created.ID, token, nil, http.StatusNoContent, nil)
			if len(resp.Body) != 0 {
				t.Errorf("204 has body %q", resp.Body)
			}
			path := "/api/v1/webhooks/" + created.ID
			wantError(t, s.do(t, http.MethodGet, path, token, nil), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodPatch, path, token, map[string]string{"name": "x"}), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodDelete, path, token, nil), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodGet, path+"/stats", token, nil), http.StatusNotFound)
			if ids := s.webhookIDs(t, token); len(ids) != 0 {
				t.Errorf("list after delete = %v, want empty", ids)
			}
		})
	})
}

func TestWebhookPagination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		var want []string
		for range 5 {
			want = append(want, s.hookTo(t, token, "https://example.com/h", "*").ID)
		}
		slices.Reverse(want) // newest first

		var all page[webhookJSON]
		s.call(t, http.MethodGet, "/api/v1/webhooks", token, nil, http.StatusOK, &all)
		if got := idsOf(all.Data); !slices.Equal(got, want) || all.NextCursor != nil {
			t.Errorf("default page = %v (next %v), want %v and no next cursor", got, all.NextCursor, want)
		}

		var got []string
		var sizes []int
		path := "/api/v1/webhooks?limit=2"
		for range 10 {
			var p page[webhookJSON]
			s.call(t, http.MethodGet, path, token, nil, http.StatusOK, &p)
			got = append(got, idsOf(p.Data)...)
			sizes = append(sizes, len(p.Data))
			if p.NextCursor == nil {
				break
			}
			path = "/api/v1/webhooks?limit=2&cursor=" + *p.NextCursor
		}
		if !slices.Equal(got, want) || !slices.Equal(sizes, []int{2, 2, 1}) {
			t.Errorf("pages of 2 gave %v in pages of %v, want %v in pages of [2 2 1]", got, sizes, want)
		}

		var exact page[webhookJSON]
		s.call(t, http.MethodGet, "/api/v1/webhooks?limit=5", token, nil, http.StatusOK, &exact)
		if len(exact.Data) != 5 || exact.NextCursor != nil {
			t.Errorf("limit=5 of 5 gave %d rows, next cursor %v; want 5 and none", len(exact.Data), exact.NextCursor)
		}

		for _, q := range []string{"limit=0", "limit=101", "limit=-1", "limit=abc", "limit=1.5", "limit=", "limit=99999999999999999999"} {
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks?"+q, token, nil), http.StatusBadRequest, "limit")
		}
		s.call(t, http.MethodGet, "/api/v1/webhooks?limit=100", token, nil, http.StatusOK, nil)
		s.call(t, http.MethodGet, "/api/v1/webhooks?limit=1", token, nil, http.StatusOK, nil)

		for _, c := range []string{
			"abc",
			"!!!",
			base64.RawURLEncoding.EncodeToString([]byte("v1:not-a-uuid")),
			base64.RawURLEncoding.EncodeToString([]byte("v2:" + want[0])),
			base64.RawURLEncoding.EncodeToString([]byte(want[0])),
			base64.RawURLEncoding.EncodeToString([]byte("v1:" + want[0] + "' OR '1'='1")),
			want[0],
			strings.Repeat("A", 300),
		} {
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks?cursor="+c, token, nil), http.StatusBadRequest, "cursor")
		}
	})
}

func idsOf(ws []webhookJSON) []string {
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	return ids
}

// omit removes a field from a request body in validation tables.
type omit struct{}

// validHook returns a valid create body changed by mods; an omit value
// removes the field.
func validHook(mods map[string]any) map[string]any {
	b := map[string]any{"name": "ok", "url": "https://example.com/hook", "events": []string{"message.new"}}
	for k, v := range mods {
		if _, ok := v.(omit); ok {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	return b
}

func TestWebhookValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		s.hookTo(t, token, "https://example.com/existing", "*")
		const before = 1

		tooMany := make([]string, 101)
		for i := range tooMany {
			tooMany[i] = "*"
		}
		shortKey := "whsec_" + base64.StdEncoding.EncodeToString([]byte("8 bytes!"))
		tests := []struct {
			name   string
			mods   map[string]any
			fields []string
			says   []string // words the message of the first field's detail must contain
		}{
			{"name missing", map[string]any{"name": omit{}}, []string{"name"}, nil},
			{"name null", map[string]any{"name": nil}, []string{"name"}, nil},
			{"name empty", map[string]any{"name": ""}, []string{"name"}, nil},
			{"name blank", map[string]any{"name": "   "}, []string{"name"}, nil},
			{"name 256 characters", map[string]any{"name": strings.Repeat("é", 256)}, []string{"name"}, []string{"255"}},
			{"name control character", map[string]any{"name": "a\nb"}, []string{"name"}, nil},
			{"name a number", map[string]any{"name": 12}, []string{"name"}, nil},
			{"url missing", map[string]any{"url": omit{}}, []string{"url"}, nil},
			{"url empty", map[string]any{"url": ""}, []string{"url"}, nil},
			{"url ftp", map[string]any{"url": "ftp://example.com/x"}, []string{"url"}, nil},
			{"url relative", map[string]any{"url": "/relative/path"}, []string{"url"}, nil},
			{"url without scheme", map[string]any{"url": "example.com/hook"}, []string{"url"}, nil},
			{"url without host", map[string]any{"url": "http://"}, []string{"url"}, nil},
			{"url empty host", map[string]any{"url": "https:///path"}, []string{"url"}, nil},
			{"url port only", map[string]any{"url": "http://:8080/x"}, []string{"url"}, nil},
			{"url with a space", map[string]any{"url": "http://exa mple.com"}, []string{"url"}, nil},
			{"url javascript", map[string]any{"url": "javascript:alert(1)"}, []string{"url"}, nil},
			{"url mailto", map[string]any{"url": "mailto:a@example.com"}, []string{"url"}, nil},
			{"url bad escape", map[string]any{"url": "http://example.com/%zz"}, []string{"url"}, nil},
			{"url 2049 characters", map[string]any{"url": "https://example.com/" + strings.Repeat("a", 2049-20)}, []string{"url"}, []string{"2048"}},
			{"url a number", map[string]any{"url": 5}, []string{"url"}, nil},
			{"events missing", map[string]any{"events": omit{}}, []string{"events"}, nil},
			{"events null", map[string]any{"events": nil}, []string{"events"}, nil},
			{"events empty", map[string]any{"events": []string{}}, []string{"events"}, nil},
			{"events a string", map[string]any{"events": "message.new"}, []string{"events"}, nil},
			{"events of numbers", map[string]any{"events": []int{1}}, []string{"events"}, nil},
			{"events unknown", map[string]any{"events": []string{"nope.thing"}}, []string{"events"}, []string{"nope.thing"}},
			{"events one unknown", map[string]any{"events": []string{"message.new", "bogus.event"}}, []string{"events"}, []string{"bogus.event"}},
			{"events wildcard matching nothing", map[string]any{"events": []string{"nomatch.*"}}, []string{"events"}, []string{"nomatch.*"}},
			{"events double wildcard", map[string]any{"events": []string{"message.*.*"}}, []string{"events"}, []string{"message.*.*"}},
			{"events partial wildcard", map[string]any{"events": []string{"mess*"}}, []string{"events"}, []string{"mess*"}},
			{"events empty entry", map[string]any{"events": []string{""}}, []string{"events"}, nil},
			{"events null entry", map[string]any{"events": []any{nil}}, []string{"events"}, nil},
			{"events too many", map[string]any{"events": tooMany}, []string{"events"}, nil},
			{"events case", map[string]any{"events": []string{"Message.New"}}, []string{"events"}, []string{"Message.New"}},
			{"secret too short", map[string]any{"secret": "1234567"}, []string{"secret"}, []string{"8"}},
			{"secret too long", map[string]any{"secret": strings.Repeat("s", 1025)}, []string{"secret"}, nil},
			{"secret with a space", map[string]any{"secret": "has space 123"}, []string{"secret"}, nil},
			{"secret with a tab", map[string]any{"secret": "tab\tsecret123"}, []string{"secret"}, nil},
			{"secret whsec not base64", map[string]any{"secret": "whsec_!!!!notbase64!!"}, []string{"secret"}, nil},
			{"secret whsec too short", map[string]any{"secret": shortKey}, []string{"secret"}, nil},
			{"secret empty", map[string]any{"secret": ""}, []string{"secret"}, nil},
			{"secret a number", map[string]any{"secret": 12345678}, []string{"secret"}, nil},
			{"description too long", map[string]any{"description": strings.Repeat("d", 2001)}, []string{"description"}, nil},
			{"description NUL", map[string]any{"description": "a\x00b"}, []string{"description"}, nil},
			{"description a number", map[string]any{"description": 3}, []string{"description"}, nil},
			{"isActive a string", map[string]any{"isActive": "yes"}, []string{"isActive"}, nil},
			{"isActive a number", map[string]any{"isActive": 1}, []string{"isActive"}, nil},
			{"unknown field", map[string]any{"color": "red"}, []string{"color"}, nil},
			{"every bad field at once", map[string]any{"name": "", "url": "ftp://x", "events": []string{}, "secret": "x"},
				[]string{"name", "url", "events", "secret"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks", token, validHook(tt.mods)), http.StatusBadRequest, tt.fields...)
				msg, _ := e.Detail(tt.fields[0])
				for _, w := range tt.says {
					if !strings.Contains(msg, w) {
						t.Errorf("detail %q does not mention %q", msg, w)
					}
				}
				if n := len(s.webhookIDs(t, token)); n != before {
					t.Errorf("after a rejected create there are %d webhooks, want %d", n, before)
				}
			})
		}

		t.Run("every unknown entry is named", func(t *testing.T) {
			e := wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks", token,
				validHook(map[string]any{"events": []string{"first.bad", "message.new", "second.bad"}})), http.StatusBadRequest, "events")
			all := e.Message
			for _, d := range e.Details {
				all += " " + d.Message
			}
			for _, name := range []string{"first.bad", "second.bad"} {
				if !strings.Contains(all, name) {
					t.Errorf("error %+v does not name %q", e, name)
				}
			}
		})

		t.Run("limits are inclusive", func(t *testing.T) {
			for name, mods := range map[string]map[string]any{
				"name 255 characters":     {"name": strings.Repeat("é", 255)},
				"url 2048 characters":     {"url": "https://example.com/" + strings.Repeat("a", 2048-20)},
				"secret 8 characters":     {"secret": "12345678"},
				"secret 1024 characters":  {"secret": strings.Repeat("s", 1024)},
				"whsec secret":            {"secret": "whsec_" + base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!"))},
				"description 2000":        {"description": strings.Repeat("d", 2000)},
				"every catalogue pattern": {"events": []string{"*", "message.*", "conversation.*", "campaign.*", "message.new", "conversation.created", "conversation.assigned", "campaign.started", "campaign.completed"}},
				"http with port and path": {"url": "http://localhost:8080/a/b?c=d#e"},
				"https with IP":           {"url": "https://[::1]:8443/x"},
			} {
				w := s.createWebhook(t, token, validHook(mods))
				var got map[string]any
				s.call(t, http.MethodGet, "/api/v1/webhooks/"+w.ID, token, nil, http.StatusOK, &got)
				for k, v := range mods {
					if k == "events" {
						continue
					}
					if got[k] != v {
						t.Errorf("%s: stored %s = %v, want %v", name, k, got[k], v)
					}
				}
				s.call(t, http.MethodDelete, "/api/v1/webhooks/"+w.ID, token, nil, http.StatusNoContent, nil)
			}
		})

		valid := `{"name":"ok","url":"https://example.com/hook","events":["message.new"]}`
		bodies := []struct {
			name   string
			body   rawBody
			status int
		}{
			{"empty body", rawBody(""), http.StatusBadRequest},
			{"whitespace body", rawBody(" \n\t "), http.StatusBadRequest},
			{"truncated JSON", rawBody(`{"name":`), http.StatusBadRequest},
			{"unquoted keys", rawBody(`{name:"ok"}`), http.StatusBadRequest},
			{"trailing comma", rawBody(`{"name":"ok","url":"https://example.com","events":["*"],}`), http.StatusBadRequest},
			{"trailing object", rawBody(valid + `{}`), http.StatusBadRequest},
			{"trailing text", rawBody(valid + ` x`), http.StatusBadRequest},
			{"trailing bracket", rawBody(valid + `]`), http.StatusBadRequest},
			{"two objects", rawBody(valid + "\n" + valid), http.StatusBadRequest},
			{"invalid UTF-8", rawBody("{\"name\":\"\xff\xfe\",\"url\":\"https://example.com\",\"events\":[\"*\"]}"), http.StatusBadRequest},
			{"array", rawBody(`[]`), http.StatusBadRequest},
			{"string", rawBody(`"webhook"`), http.StatusBadRequest},
			{"number", rawBody(`42`), http.StatusBadRequest},
			{"null", rawBody(`null`), http.StatusBadRequest},
			{"over 1 MiB", rawBody(`{"name":"ok","url":"https://example.com","events":["*"],"description":"` +
				strings.Repeat("d", server.MaxBodyBytes) + `"}`), http.StatusRequestEntityTooLarge},
		}
		for _, tt := range bodies {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks", token, tt.body), tt.status)
				if n := len(s.webhookIDs(t, token)); n != before {
					t.Errorf("after a rejected create there are %d webhooks, want %d", n, before)
				}
			})
		}
	})
}

func TestWebhookPatchValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		w := s.createWebhook(t, token, map[string]any{"name": "keep", "url": "https://example.com/keep",
			"events": []string{"message.new"}, "secret": "keep-this-secret", "description": "kept"})
		path := "/api/v1/webhooks/" + w.ID
		before := s.getWebhook(t, token, w.ID)

		tests := []struct {
			name   string
			body   any
			status int
			fields []string
		}{
			{"name empty", map[string]any{"name": ""}, http.StatusBadRequest, []string{"name"}},
			{"name too long", map[string]any{"name": strings.Repeat("n", 256)}, http.StatusBadRequest, []string{"name"}},
			{"url ftp", map[string]any{"url": "ftp://example.com"}, http.StatusBadRequest, []string{"url"}},
			{"url empty", map[string]any{"url": ""}, http.StatusBadRequest, []string{"url"}},
			{"events empty", map[string]any{"events": []string{}}, http.StatusBadRequest, []string{"events"}},
			{"events unknown", map[string]any{"events": []string{"nope.thing"}}, http.StatusBadRequest, []string{"events"}},
			{"secret short", map[string]any{"secret": "short"}, http.StatusBadRequest, []string{"secret"}},
			{"description too long", map[string]any{"description": strings.Repeat("d", 2001)}, http.StatusBadRequest, []string{"description"}},
			{"isActive a string", map[string]any{"isActive": "false"}, http.StatusBadRequest, []string{"isActive"}},
			{"unknown field", map[string]any{"userId": "someone"}, http.StatusBadRequest, []string{"userId"}},
			{"id is not writable", map[string]any{"id": store.NewID()}, http.StatusBadRequest, []string{"id"}},
			{"good name, bad url", map[string]any{"name": "changed", "url": "ftp://x"}, http.StatusBadRequest, []string{"url"}},
			{"good events, bad secret", map[string]any{"events": []string{"*"}, "secret": "x"}, http.StatusBadRequest, []string{"secret"}},
			{"malformed", rawBody(`{"name":"x"`), http.StatusBadRequest, nil},
			{"trailing data", rawBody(`{"name":"x"} {"name":"y"}`), http.StatusBadRequest, nil},
			{"invalid UTF-8", rawBody("{\"name\":\"\xc3\x28\"}"), http.StatusBadRequest, nil},
			{"empty body", rawBody(""), http.StatusBadRequest, nil},
			{"array", rawBody(`[{"name":"x"}]`), http.StatusBadRequest, nil},
			{"over 1 MiB", rawBody(`{"description":"` + strings.Repeat("d", server.MaxBodyBytes) + `"}`), http.StatusRequestEntityTooLarge, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, method := range []string{http.MethodPatch, http.MethodPut} {
					wantError(t, s.do(t, method, path, token, tt.body), tt.status, tt.fields...)
					if after := s.getWebhook(t, token, w.ID); after != before {
						t.Errorf("%s changed the webhook:\nbefore %s\n after %s", method, before, after)
					}
				}
			})
		}
	})
}

func TestEventTypes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		t.Run("default catalogue", func(t *testing.T) {
			s := newTestServer(t, st)
			_, token := s.user(t, "a@example.com")
			var got struct{ Data []string }
			s.call(t, http.MethodGet, "/api/v1/event-types", token, nil, http.StatusOK, &got)
			seed := []string{"message.new", "conversation.created", "conversation.assigned", "campaign.started", "campaign.completed"}
			if !slices.Equal(got.Data[:min(len(got.Data), len(seed))], seed) {
				t.Errorf("event types = %v, want the seed's %v first", got.Data, seed)
			}
			if !slices.Equal(got.Data, catalog.Default) {
				t.Errorf("event types = %v, want catalog.Default %v", got.Data, catalog.Default)
			}
			wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks", token,
				validHook(map[string]any{"events": []string{"custom.thing"}})), http.StatusBadRequest, "events")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token,
				map[string]any{"event": "custom.thing", "data": 1}), http.StatusBadRequest, "event")
			wantError(t, s.do(t, http.MethodGet, "/api/v1/event-types", "", nil), http.StatusUnauthorized)
		})

		t.Run("extended with --event-types", func(t *testing.T) {
			s := newTestServer(t, st, withCatalog(t, "custom.thing", "custom.other"))
			_, token := s.user(t, "b@example.com")
			var got struct{ Data []string }
			s.call(t, http.MethodGet, "/api/v1/event-types", token, nil, http.StatusOK, &got)
			if want := append(slices.Clone(catalog.Default), "custom.thing", "custom.other"); !slices.Equal(got.Data, want) {
				t.Errorf("event types = %v, want %v", got.Data, want)
			}
			exact := s.hookTo(t, token, "https://example.com/a", "custom.thing")
			wild := s.hookTo(t, token, "https://example.com/b", "custom.*")
			var res eventResult
			s.call(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "custom.other", "data": 1}, http.StatusAccepted, &res)
			if res.Deliveries != 1 {
				t.Errorf("custom.other reached %d webhooks, want 1 (custom.*)", res.Deliveries)
			}
			if p := s.pending(t, token, wild.ID); p != 1 {
				t.Errorf("custom.* webhook has %d pending, want 1", p)
			}
			if p := s.pending(t, token, exact.ID); p != 0 {
				t.Errorf("custom.thing webhook has %d pending, want 0", p)
			}
		})
	})
}

func TestCheckURL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		guard := func(_ context.Context, u *url.URL) error {
			if u.Hostname() == "blocked.example" {
				return errors.New("resolves to a private address; start with --allow-private-targets to allow it")
			}
			return nil
		}
		s := newTestServer(t, st, func(c *server.Config) { c.CheckURL = guard })
		_, token := s.user(t, "a@example.com")
		e := wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks", token,
			validHook(map[string]any{"url": "https://blocked.example/hook"})), http.StatusBadRequest, "url")
		if msg, _ := e.Detail("url"); !strings.Contains(msg, "--allow-private-targets") {
			t.Errorf("url detail = %q, want the guard's reason", msg)
		}
		if n := len(s.webhookIDs(t, token)); n != 0 {
			t.Errorf("%d webhooks after a refused create, want 0", n)
		}
		w := s.hookTo(t, token, "https://allowed.example/hook", "*")
		before := s.getWebhook(t, token, w.ID)
		wantError(t, s.do(t, http.MethodPatch, "/api/v1/webhooks/"+w.ID, token, map[string]any{"url": "http://blocked.example:8080/"}),
			http.StatusBadRequest, "url")
		if after := s.getWebhook(t, token, w.ID); after != before {
			t.Errorf("a refused PATCH changed the webhook:\nbefore %s\n after %s", before, after)
		}
	})
}
