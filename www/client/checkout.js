// Client-side confirmation: a checkout page's card data goes from the
// browser straight to Switchyard, so the merchant's server never sees a
// card number. The page holds only the publishable key (`pk_…`) and the
// PaymentIntent's client secret, which the merchant's server got when it
// created the payment with its secret key. With those two, the worker lets
// a browser retrieve that one payment (Stripe's client-safe fields) and
// confirm it with a card; nothing else.
//
//   import { retrievePaymentIntent, confirmCardPayment } from './checkout.js';
//   const pi = await confirmCardPayment(api, pk, clientSecret,
//     { number, exp_month, exp_year, cvc });
//
// Errors are thrown as `CheckoutError` with Stripe's error fields (`type`,
// `code`, `decline_code`, `param`, `message`) and the HTTP status.

export class CheckoutError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.name = 'CheckoutError';
    this.status = status;
    this.type = error?.type;
    this.code = error?.code;
    this.decline_code = error?.decline_code;
    this.param = error?.param;
    this.payment_intent = error?.payment_intent;
  }
}

/** The payment id inside a client secret (`pi_…_secret_…`). */
export function paymentIdOf(clientSecret) {
  const m = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(String(clientSecret));
  if (!m) throw new CheckoutError(400, { type: 'invalid_request_error', param: 'client_secret', message: 'Not a PaymentIntent client secret.' });
  return m[1];
}

async function call(api, pk, method, path, form) {
  const res = await fetch(api.replace(/\/$/, '') + path, {
    method,
    headers: {
      authorization: `Bearer ${pk}`,
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new CheckoutError(res.status, body.error);
  return body;
}

/** The PaymentIntent's client-safe fields. */
export function retrievePaymentIntent(api, pk, clientSecret) {
  const id = paymentIdOf(clientSecret);
  return call(api, pk, 'GET', `/v1/payment_intents/${id}?client_secret=${encodeURIComponent(clientSecret)}`);
}

/** Confirms the PaymentIntent with a card; resolves to its client-safe fields. */
export function confirmCardPayment(api, pk, clientSecret, card) {
  const id = paymentIdOf(clientSecret);
  return call(api, pk, 'POST', `/v1/payment_intents/${id}/confirm`, {
    client_secret: clientSecret,
    'payment_method_data[type]': 'card',
    'payment_method_data[card][number]': card.number,
    'payment_method_data[card][exp_month]': String(card.exp_month),
    'payment_method_data[card][exp_year]': String(card.exp_year),
    ...(card.cvc ? { 'payment_method_data[card][cvc]': card.cvc } : {}),
  });
}
