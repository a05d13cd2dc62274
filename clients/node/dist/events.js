// The event types of webhookd's built-in catalogue (catalog/defaults.go).
// e2e/node_client_test.go fails when this list and the catalogue differ.
/** The built-in catalogue's event types, in the catalogue's order. */
export const catalogEventTypes = [
    'message.new',
    'conversation.created',
    'conversation.assigned',
    'campaign.started',
    'campaign.completed',
    'webhook.disabled',
];
