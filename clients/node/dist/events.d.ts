/** The built-in catalogue's event types, in the catalogue's order. */
export declare const catalogEventTypes: readonly ["message.new", "conversation.created", "conversation.assigned", "campaign.started", "campaign.completed", "webhook.disabled"];
/** One of the built-in catalogue's event types. */
export type CatalogEventType = (typeof catalogEventTypes)[number];
/**
 * An event type a publisher may send: a catalogue type (webhookd publishes
 * `webhook.disabled` itself and refuses it from the API), or any other
 * name the server's catalogue allows (`--event-catalog`, `--event-types`).
 * `string & {}` keeps editor completion for the known names while
 * accepting custom ones.
 */
export type PublishableEventType = Exclude<CatalogEventType, 'webhook.disabled'> | (string & {});
/**
 * What a webhook subscribes to: a type, `*`, a prefix pattern such as
 * `message.*`, or a custom type.
 */
export type EventPattern = CatalogEventType | '*' | `${string}.*` | (string & {});
