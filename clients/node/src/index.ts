// @webhookd/client: webhookd's client for Node.js 20 and later, with no
// runtime dependencies.
export { WebhookdClient, parseRetryAfter } from './client.js';
export type {
  WebhookdClientOptions,
  CallOptions,
  PublishOptions,
  PublishResult,
  BatchEvent,
  PublishBatchOptions,
  BatchResult,
  Webhook,
  WebhookCreate,
  WebhookUpdate,
  Page,
  ListOptions,
  RotatedWebhook,
  TestSend,
  TestResult,
  StoredEvent,
} from './client.js';
export { WebhookdError, WebhookVerificationError } from './errors.js';
export type { ErrorBody, FieldError, VerificationFailure } from './errors.js';
export { catalogEventTypes } from './events.js';
export type { CatalogEventType, PublishableEventType, EventPattern } from './events.js';
export { verifySignature, signingKey } from './verify.js';
export type { HeadersLike, VerifyOptions, VerifiedDelivery, SignatureScheme } from './verify.js';
