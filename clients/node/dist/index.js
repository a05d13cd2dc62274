// @webhookd/client: webhookd's client for Node.js 20 and later, with no
// runtime dependencies.
export { WebhookdClient, parseRetryAfter } from './client.js';
export { WebhookdError, WebhookVerificationError } from './errors.js';
export { catalogEventTypes } from './events.js';
export { verifySignature, signingKey } from './verify.js';
