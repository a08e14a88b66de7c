// A checkout backend's payment handler (plain node:http): it routes the
// payment with @switchyard/routing first, then asks the Switchyard worker to
// create and confirm it (POST /v1/payment_intents).
//
// Routing locally first lets the handler
//   - refuse a malformed payment with the engine's own issues, before any call;
//   - answer a rule's decline at once (the worker would decline it the same way);
//   - record which processor it expects (metadata[expected_processor]), to
//     compare with what the worker did (the payment's routing.attempts).
// The worker still routes the payment itself, with its active rule set.
import { Router, SwitchyardError } from '@switchyard/routing';

/**
 * @param {object} o
 * @param {Router} o.router          compiled from the rule set the worker has active
 * @param {string} o.switchyardUrl   the worker, e.g. process.env.SWITCHYARD_URL
 * @param {string} o.secretKey       sk_test_… / sk_live_…
 * @param {typeof fetch} [o.fetch]   injectable for tests
 * @returns {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<void>}
 */
export function createPaymentHandler({ router, switchyardUrl, secretKey, fetch = globalThis.fetch }) {
  return async function handle(req, res) {
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') return reply(405, { error: 'POST a payment' });
    let order;
    try {
      order = JSON.parse(await readBody(req));
    } catch {
      return reply(400, { error: 'the body is not JSON' });
    }
    const { order_id: orderId, amount, currency, card = {} } = order ?? {};
    if (typeof orderId !== 'string' || orderId === '') return reply(400, { error: 'order_id is required' });

    // 1. Route locally. The worker splits by the payment's id, which does not
    //    exist yet: the order id stands in, so a split's pick is a guess.
    let decision;
    try {
      decision = router.route({ amount, currency, card: { number: card.number }, routing_key: orderId });
    } catch (e) {
      if (!(e instanceof SwitchyardError)) throw e;
      return reply(400, { error: e.message, issues: e.issues }); // never quotes the card number
    }
    if (decision.action === 'decline') {
      return reply(402, { error: decision.decline.message ?? 'Your card was declined.', code: decision.decline.code });
    }

    // 2. Create and confirm the payment with the worker.
    const form = new URLSearchParams({
      amount: String(amount),
      currency,
      confirm: 'true',
      'payment_method_data[type]': 'card',
      'payment_method_data[card][number]': card.number,
      'payment_method_data[card][exp_month]': String(card.exp_month),
      'payment_method_data[card][exp_year]': String(card.exp_year),
      'payment_method_data[card][cvc]': String(card.cvc),
      'metadata[order_id]': orderId,
      'metadata[expected_processor]': decision.processors[0],
    });
    const answer = await fetch(new URL('/v1/payment_intents', switchyardUrl), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${secretKey}:`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        'idempotency-key': `order_${orderId}`, // a retried request charges once
      },
      body: form,
    });
    const body = await answer.json();
    const intent = body.error?.payment_intent ?? body;
    return reply(answer.status, {
      status: intent.status,
      payment_intent: intent.id,
      expected_processor: decision.processors[0],
      error: body.error?.message,
    });
  };
}

async function readBody(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 64 * 1024) throw new Error('too large');
  }
  return text;
}

export { Router };
