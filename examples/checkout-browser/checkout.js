// Previews, as the customer types, which processor the payment will go to:
// the card's BIN (its first 6 to 8 digits) is enough, and nothing leaves the
// page. The rule set is the one your server routes with (here a static file;
// in production, serve the active rule set from your backend, which reads it
// with its secret key: GET /v1/routing/rulesets/:id).
import init, { Router, SwitchyardError } from '@switchyard/routing';

await init(); // fetches switchyard_bg.wasm from beside switchyard.js

const rules = await (await fetch('./routing-rules.json')).json();
const router = new Router(rules);

const form = document.getElementById('checkout');
const out = document.getElementById('processor');

/** The payment as far as it is typed: a BIN once 6 digits are there. */
export function paymentOf({ amount, currency, card }) {
  const digits = card.replace(/\D/g, '');
  const payment = { amount: Number(amount), currency };
  if (digits.length >= 6) payment.card = { bin: digits.slice(0, 8) };
  return payment;
}

function show() {
  const fields = Object.fromEntries(new FormData(form));
  try {
    const decision = router.route(paymentOf(fields));
    out.dataset.action = decision.action;
    out.dataset.processor = decision.processors[0] ?? '';
    out.textContent =
      decision.action === 'decline'
        ? 'This card cannot be used here.'
        : `Processed by ${decision.processors[0]}${decision.rule ? ` (${decision.rule})` : ''}`;
  } catch (e) {
    if (!(e instanceof SwitchyardError)) throw e;
    // Not a payment yet (an amount of 0, say): e.issues says what is wrong.
    out.dataset.action = 'invalid';
    out.dataset.processor = '';
    out.textContent = e.issues[0].message;
  }
}

form.addEventListener('input', show);
show();
document.body.dataset.ready = 'true';
