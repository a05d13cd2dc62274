package catalog

import "encoding/json"

// The built-in entries, in the order of Default. Their schemas are
// deliberately permissive: CRMs publish these types today, so a schema
// only says what type a field the quick start shows must have when it is
// there. None requires a field or that data be an object (the quick
// start's test send carries two fields of message.new; publishers send
// what they have), and every one allows other fields. webhook.disabled,
// which only webhookd publishes, is described exactly. A catalogue file
// (--event-catalog) may replace any but webhook.disabled.
var defaultEntries = mustEntries([]defaultEntry{
	{"message.new", "A message arrived in a conversation (direction inbound) or was sent from it (outbound).", `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"properties": {
			"messageId": {"type": "string", "description": "the CRM's id of the message"},
			"conversationId": {"type": "string", "description": "the conversation it belongs to"},
			"contactId": {"type": "string", "description": "the contact on the other side"},
			"direction": {"enum": ["inbound", "outbound"], "description": "inbound: the contact wrote; outbound: the CRM sent it"},
			"type": {"type": "string", "description": "the kind of message: text, image, ..."},
			"content": {"description": "the message itself; text for a text message"},
			"timestamp": {"type": "string", "description": "when the message was sent, ISO 8601"}
		}
	}`, []string{
		// The quick start's payload example, then its test payload.
		`{"messageId":"msg_123","conversationId":"conv_456","contactId":"contact_789","direction":"inbound","type":"text","content":"Hello!","timestamp":"2024-01-01T12:00:00.000Z"}`,
		`{"messageId":"test_123","content":"Hello World"}`,
	}},
	{"conversation.created", "A conversation with a contact was opened.", `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"properties": {
			"conversationId": {"type": "string", "description": "the CRM's id of the conversation"},
			"contactId": {"type": "string", "description": "the contact it is with"}
		}
	}`, []string{`{"conversationId":"conv_456","contactId":"contact_789"}`}},
	{"conversation.assigned", "A conversation was assigned to a member of the team.", `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"properties": {
			"conversationId": {"type": "string", "description": "the CRM's id of the conversation"},
			"contactId": {"type": "string", "description": "the contact it is with"},
			"assigneeId": {"type": "string", "description": "the member it is now assigned to"}
		}
	}`, []string{`{"conversationId":"conv_456","contactId":"contact_789","assigneeId":"agent_42"}`}},
	{"campaign.started", "A campaign started sending; published once per contact it reaches.", `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"properties": {
			"campaignId": {"type": "string", "description": "the CRM's id of the campaign"},
			"contactId": {"type": "string", "description": "the contact reached"}
		}
	}`, []string{`{"campaignId":"cmp_1","contactId":"contact_1"}`}},
	{"campaign.completed", "A campaign finished sending.", `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"properties": {
			"campaignId": {"type": "string", "description": "the CRM's id of the campaign"}
		}
	}`, []string{`{"campaignId":"cmp_1"}`}},
	{"webhook.disabled", "webhookd disabled one of your webhooks after it failed for too long (sent to your other webhooks; it cannot be published through the API).", `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "object",
		"required": ["webhookId", "name", "url", "reason", "disabledAt"],
		"properties": {
			"webhookId": {"type": "string"},
			"name": {"type": "string"},
			"url": {"type": "string"},
			"reason": {"type": "string"},
			"disabledAt": {"type": "string", "format": "date-time"}
		}
	}`, []string{`{"disabledAt":"2024-01-04T12:00:00.000Z","name":"My First Webhook","reason":"every delivery failed for 72h0m0s (20 consecutive failed attempts since 2024-01-01T12:00:00Z)","url":"https://webhook.site/your-unique-id","webhookId":"0192b7d1-7c2a-7e0f-8a5b-3f1c2d4e5f60"}`}},
})

type defaultEntry struct {
	name, description, schema string
	examples                  []string
}

// mustEntries builds the built-in entries. It panics on a mistake in the
// table above, which TestDefaults also catches: it is source, not input.
func mustEntries(table []defaultEntry) []*Entry {
	out := make([]*Entry, len(table))
	for i, d := range table {
		e := &Entry{Name: d.name, Description: d.description}
		var err error
		if e.Schema, err = compact([]byte(d.schema)); err != nil {
			panic("catalog: default " + d.name + ": " + err.Error())
		}
		for _, x := range d.examples {
			e.Examples = append(e.Examples, json.RawMessage(x))
		}
		if err := e.check(); err != nil {
			panic("catalog: default " + d.name + ": " + err.Error())
		}
		out[i] = e
	}
	return out
}
