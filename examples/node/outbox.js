#!/usr/bin/env node
// A CRM publishing through webhookd's transactional outbox (PostgreSQL,
// `webhookd serve --outbox`) with node-postgres: the business row and the
// outbox row go in ONE transaction, so the event exists exactly when the
// change does. No HTTP call, no retry loop: if the transaction commits,
// webhookd turns the row into exactly one event; if it rolls back, there
// is no event.
//
//   npm install pg
//   DATABASE_URL=postgres://postgres@localhost:5432/whatscrm TENANT=acme \
//     node outbox.js "+44 7700 900123"
//
// DATABASE_URL is the CRM's database, the one webhookd's --db names (the
// CRM runs create-webhooks-tables.sql there, or webhookd migrates it).
// TENANT is the tenant the event is for; leave it out on a single-tenant
// installation (the row's tenant is then NULL: --outbox-owner's). With
// ROLLBACK=1 the transaction is rolled back instead, to see that nothing
// is published. Prints one line of JSON; exit status 1 on any error.
'use strict';

const { Client } = require('pg');

// openConversation saves a conversation and its conversation.created
// event atomically.
async function openConversation(client, tenant, customer, rollback) {
  await client.query('BEGIN');
  try {
    // The CRM's own change (this example's table stands in for yours).
    const { rows } = await client.query(
      'INSERT INTO crm_conversations (tenant, customer) VALUES ($1, $2) RETURNING id',
      [tenant, customer]);
    const id = rows[0].id;
    // The event, in the same transaction. The idempotency key makes a
    // retried transaction (say, after a serialization failure) publish
    // once: a row repeating a key within 24 hours with the same event and
    // data becomes no second event.
    await client.query(
      `INSERT INTO webhook_outbox (tenant, event, data, idempotency_key)
       VALUES ($1, 'conversation.created', $2, $3)`,
      [tenant, { conversationId: String(id), customer }, `conversation-created-${id}`]);
    if (rollback) {
      await client.query('ROLLBACK');
      return { conversationId: String(id), committed: false };
    }
    await client.query('COMMIT');
    return { conversationId: String(id), committed: true };
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error('DATABASE_URL is required: the CRM database webhookd --outbox reads');
  }
  const tenant = process.env.TENANT || null;
  const customer = process.argv[2] || '+44 7700 900123';
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS crm_conversations (
      id bigserial PRIMARY KEY, tenant text, customer text NOT NULL)`);
    const result = await openConversation(client, tenant, customer, process.env.ROLLBACK === '1');
    console.log(JSON.stringify(result));
  } finally {
    await client.end();
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
