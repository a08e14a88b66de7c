// A stateful fake of Adyen's Checkout API v71, for Switchyard's wire tests.
//
// It follows Adyen's published wire format: the OpenAPI description in
// tests/fakes/adyen/openapi/CheckoutService-v71.json (Adyen/adyen-openapi,
// MIT) and docs.adyen.com ("API idempotency", "Response handling",
// "Refusal reasons", "Testing result codes and refusal reasons", "Test card
// numbers"). Served at the root: base URL `http://127.0.0.1:N` stands for
// `https://checkout-test.adyen.com/v71`.
//
//   POST /payments                             200 {pspReference, resultCode, refusalReason?, refusalReasonCode?, merchantReference, amount?}
//   POST /payments/{pspReference}/captures     201 {merchantAccount, paymentPspReference, pspReference, reference, status: "received", amount}
//   POST /payments/{pspReference}/cancels      201 {merchantAccount, paymentPspReference, pspReference, reference, status: "received"}
//   POST /payments/{pspReference}/refunds      201 {..., status: "received", amount}
//   POST /cancels (technical cancel by `paymentReference`)  201 {merchantAccount, paymentReference, pspReference, reference, status: "received"}
//   GET  /__ledger                              the fake's own: its state, for reconciliation
//
// Errors are Adyen's ServiceError {status, errorCode, message, errorType}:
// 401 `security` without an `X-API-Key`, 403 `security` (901 "Invalid
// Merchant Account") without a `merchantAccount`, 422 `validation` for a
// missing field, 400 `validation` (702) for a body that is not JSON.
//
// Idempotency (documented): a request with an `Idempotency-Key` that was
// already processed gets the first answer again, status and body, with the
// `Idempotency-Key` header echoed; nothing is done twice. Keys longer than
// 64 characters are refused (422 validation, the fake's own code).
//
// Test triggers on /payments, in this order:
// 1. Documented: `paymentMethod.holderName` set to one of Adyen's test
//    values (DECLINED, REFERRAL, ERROR, BLOCK_CARD, CARD_EXPIRED,
//    INVALID_AMOUNT, INVALID_CARD_NUMBER, ISSUER_UNAVAILABLE, NOT_SUPPORTED,
//    NOT_3D_AUTHENTICATED, NOT_ENOUGH_BALANCE, PENDING, ACQUIRER_FRAUD,
//    CANCELLED, SHOPPER_CANCELLED, ... see HOLDER_NAMES), or
//    `additionalData.RequestedTestAcquirerResponseCode` set to a refusal
//    code (0 → Error "Unknown", 1 → Authorised, 4 → Error, 13 → Received,
//    others → Refused with that code). Switchyard's worker has no cardholder
//    name and sends no additionalData test codes: it cannot reach these.
// 2. Documented: Adyen's 3D Secure 2 test cards (THREEDS2_CARDS) answer
//    IdentifyShopper with a threeDS2 action. Reachable by card number.
// 3. Documented: Adyen's test cards (ADYEN_TEST_CARDS) need expiry 03/2030
//    and CVC 737 (7373 for Amex); "an incorrect CVC or an invalid expiry
//    date" gives a generic refusal (Refused, code 2). Reachable.
// 4. THE FAKE'S OWN (not Adyen's): Stripe's test card numbers, which the
//    worker's tests use everywhere, give the matching Adyen refusal
//    (STRIPE_CARDS), so that the same cards decline the same way across
//    processors. Reachable by card number.
// 5. Anything else is Authorised.
//
// Capture: `additionalData.manualCapture: "true"` keeps the payment
// authorised until a capture; otherwise (captureDelayHours 0 or absent) it
// is captured at once. A captureDelayHours above 0 leaves it authorised (the
// fake has no clock: the delayed capture never happens).
//
// Modifications: Adyen accepts a modification with `received` and reports
// its final result by webhook. The fake checks at once (its own choice, so
// that the ledger stays right without webhooks) and answers 422
// `validation` when a modification cannot be done: unknown pspReference
// (167), a capture above the uncaptured authorised amount or a refund above
// the captured-and-not-refunded amount (137, "Invalid amount specified"),
// a currency that differs (the fake's 901x codes), a capture of a cancelled
// payment. A cancel of a payment that was captured is `received` and does
// nothing (as on Adyen, whose CANCELLATION webhook would say success false).
// The technical cancel (/cancels) is always `received` (Adyen answers
// before it looks); it cancels the authorised, uncaptured payment with that
// `reference`, if there is one.

import http from 'node:http';
import { pathToFileURL } from 'node:url';

export const HOLDER_NAMES = {
  UNKNOWN: 0, APPROVED: 1, DECLINED: 2, REFERRAL: 3, ERROR: 4, BLOCK_CARD: 5,
  CARD_EXPIRED: 6, INVALID_AMOUNT: 7, INVALID_CARD_NUMBER: 8, ISSUER_UNAVAILABLE: 9,
  NOT_SUPPORTED: 10, NOT_3D_AUTHENTICATED: 11, NOT_ENOUGH_BALANCE: 12, PENDING: 13,
  ACQUIRER_FRAUD: 14, CANCELLED: 15, SHOPPER_CANCELLED: 16, INVALID_PIN: 17,
  PIN_TRIES_EXCEEDED: 18, PIN_VALIDATION_NOT_POSSIBLE: 19, FRAUD: 20, NOT_SUBMITTED: 21,
  FRAUD_CANCELLED: 22, TRANSACTION_NOT_PERMITTED: 23, CVC_DECLINED: 24, RESTRICTED_CARD: 25,
  REVOCATION_OF_AUTH: 26, DECLINED_NON_GENERIC: 27, WITHDRAWAL_AMOUNT_EXCEEDED: 28,
  WITHDRAWAL_COUNT_EXCEEDED: 29, ISSUER_SUSPECTED_FRAUD: 31, AVS_DECLINED: 32,
  CARD_REQUIRES_ONLINE_PIN: 33, NO_CHECKING_ACCOUNT_AVAILABLE_ON_CARD: 34,
  NO_SAVINGS_ACCOUNT_AVAILABLE_ON_CARD: 35, MOBILE_PIN_REQUIRED: 36, CONTACTLESS_FALLBACK: 37,
  AUTHENTICATION_REQUIRED: 38,
};

export const REFUSAL_REASONS = {
  0: 'Unknown', 2: 'Refused', 3: 'Referral', 4: 'Acquirer Error', 5: 'Blocked Card',
  6: 'Expired Card', 7: 'Invalid Amount', 8: 'Invalid Card Number', 9: 'Issuer Unavailable',
  10: 'Not supported', 11: '3D Not Authenticated', 12: 'Not enough balance', 14: 'Acquirer Fraud',
  15: 'Cancelled', 16: 'Shopper Cancelled', 17: 'Invalid Pin', 18: 'Pin tries exceeded',
  19: 'Pin validation not possible', 20: 'FRAUD', 21: 'Not Submitted', 22: 'FRAUD-CANCELLED',
  23: 'Transaction Not Permitted', 24: 'CVC Declined', 25: 'Restricted Card',
  26: 'Revocation Of Auth', 27: 'Declined Non Generic', 28: 'Withdrawal amount exceeded',
  29: 'Withdrawal count exceeded', 31: 'Issuer Suspected Fraud', 32: 'AVS Declined',
  33: 'Card requires online pin', 34: 'No checking account available on Card',
  35: 'No savings account available on Card', 36: 'Mobile pin required',
  37: 'Contactless fallback', 38: 'Authentication required', 39: 'RReq not received from DS',
  40: 'Current AID is in Penalty Box', 41: 'CVM Required Restart Payment',
  42: '3DS Authentication Error', 43: 'Online PIN required', 44: 'Try another interface',
  45: 'Chip downgrade mode', 46: 'Transaction blocked by Adyen to prevent excessive retry fees',
};

// Adyen's test card numbers (docs.adyen.com "Test card numbers"): expiry
// 03/2030, CVC 737 (Amex 7373).
export const ADYEN_TEST_CARDS = {
  '4111111111111111': '737', '4988438843884305': '737', '4166676667666746': '737',
  '5555341244441115': '737', '2222400070000005': '737', '5577000055770004': '737',
  '370000000000002': '7373',
};
// Adyen's 3D Secure 2 test cards.
export const THREEDS2_CARDS = new Set(['4917610000000000', '5454545454545454', '371449635398431']);
// The fake's own: Stripe's test numbers → an Adyen refusal code ('3ds' for
// Stripe's authentication-required cards).
export const STRIPE_CARDS = {
  '4000000000000002': 2, '4000000000009995': 12, '4000000000009987': 5, '4000000000009979': 5,
  '4000000000000069': 6, '4000000000000127': 24, '4100000000000019': 20, '4000000000000119': 4,
  '4000002760003184': '3ds', '4000002500003155': '3ds', '4000000000003220': '3ds',
};

function serviceError(status, errorCode, message, errorType) {
  return { status, body: { status, errorCode, message, errorType } };
}

export async function start({ port = 0 } = {}) {
  const payments = []; // ledger, in order
  const byPsp = new Map();
  const idempotent = new Map(); // key → {status, body}
  let counter = 0;
  const psp = () => {
    counter += 1;
    return `SY${String(Date.now() % 1e6).padStart(6, '0')}${String(counter).padStart(8, '0')}`;
  };

  function missing(body, fields) {
    for (const f of fields) {
      if (body[f] === undefined || body[f] === null || body[f] === '') {
        return serviceError(422, '14_0xx', `Field '${f}' is missing.`, 'validation');
      }
    }
    const a = body.amount;
    if (fields.includes('amount') && (!Number.isInteger(a?.value) || a.value < 0 || typeof a?.currency !== 'string' || a.currency.length !== 3)) {
      return serviceError(422, '137', 'Invalid amount specified', 'validation');
    }
    return null;
  }

  function decide(pm, additional) {
    const byCode = (code) => {
      code = Number(code);
      if (code === 1) return { resultCode: 'Authorised' };
      if (code === 13) return { resultCode: 'Received' };
      const resultCode = code === 0 || code === 4 ? 'Error' : 'Refused';
      return { resultCode, refusalReasonCode: String(code), refusalReason: REFUSAL_REASONS[code] ?? 'Refused' };
    };
    const holder = typeof pm.holderName === 'string' ? pm.holderName.trim().toUpperCase() : '';
    if (holder in HOLDER_NAMES) return byCode(HOLDER_NAMES[holder]);
    const requested = additional?.RequestedTestAcquirerResponseCode;
    if (requested !== undefined && /^\d+$/.test(String(requested))) return byCode(requested);
    const number = String(pm.number ?? '');
    if (THREEDS2_CARDS.has(number)) {
      return {
        resultCode: 'IdentifyShopper',
        action: { type: 'threeDS2', subtype: 'fingerprint', paymentMethodType: 'scheme', token: 'fake-3ds2-token', paymentData: 'fake-payment-data' },
      };
    }
    if (number in ADYEN_TEST_CARDS) {
      const okCvc = pm.cvc === undefined || pm.cvc === ADYEN_TEST_CARDS[number];
      const okExpiry = pm.expiryMonth === '03' && pm.expiryYear === '2030';
      if (!okCvc || !okExpiry) return byCode(2);
    }
    if (number in STRIPE_CARDS) {
      const t = STRIPE_CARDS[number];
      if (t === '3ds') {
        return { resultCode: 'ChallengeShopper', action: { type: 'threeDS2', subtype: 'challenge', paymentMethodType: 'scheme', token: 'fake-3ds2-token' } };
      }
      return byCode(t);
    }
    return { resultCode: 'Authorised' };
  }

  function authorize(body) {
    const err = missing(body, ['merchantAccount', 'amount', 'reference', 'paymentMethod', 'returnUrl']);
    if (err) return err;
    if (body.reference.length > 80) return serviceError(422, '14_0xx', 'Reference is too long (max 80).', 'validation');
    const pm = body.paymentMethod;
    if (pm.type !== 'scheme' || typeof pm.number !== 'string') {
      return serviceError(422, '905', 'Payment details are not supported', 'validation');
    }
    const decision = decide(pm, body.additionalData);
    const id = psp();
    const currency = body.amount.currency.toUpperCase();
    const manual = body.additionalData?.manualCapture === 'true' || (body.captureDelayHours ?? 0) > 0;
    const authorised = decision.resultCode === 'Authorised';
    const payment = {
      id, reference: body.reference, amount: body.amount.value, currency,
      status: authorised ? (manual ? 'authorised' : 'captured') : decision.resultCode.toLowerCase(),
      captured: authorised && !manual ? body.amount.value : 0,
      refunded: 0, refunds: [], captures: [],
    };
    payments.push(payment);
    byPsp.set(id, payment);
    const answer = { pspReference: id, resultCode: decision.resultCode, merchantReference: body.reference };
    if (decision.refusalReasonCode !== undefined) {
      answer.refusalReason = decision.refusalReason;
      answer.refusalReasonCode = decision.refusalReasonCode;
    }
    if (decision.action) {
      answer.action = decision.action;
      delete answer.pspReference; // Adyen gives none until the shopper is done
    }
    if (authorised) {
      answer.amount = { value: body.amount.value, currency };
      answer.additionalData = { authCode: '044925', refusalReasonRaw: 'AUTHORISED' };
    }
    return { status: 200, body: answer };
  }

  function modify(kind, pspRef, body) {
    const needs = kind === 'cancels' ? ['merchantAccount'] : ['merchantAccount', 'amount'];
    const err = missing(body, needs);
    if (err) return err;
    const p = byPsp.get(pspRef);
    if (!p) return serviceError(422, '167', 'Original pspReference required for this operation', 'validation');
    const id = psp();
    const answer = { merchantAccount: body.merchantAccount, paymentPspReference: pspRef, pspReference: id, status: 'received' };
    if (body.reference !== undefined) answer.reference = body.reference;
    if (kind === 'cancels') {
      if (p.status === 'authorised' && p.captured === 0) p.status = 'cancelled';
      return { status: 201, body: answer };
    }
    const value = body.amount.value;
    const currency = body.amount.currency.toUpperCase();
    if (currency !== p.currency) return serviceError(422, '9010', 'Currency differs from the payment (fake)', 'validation');
    answer.amount = { value, currency };
    if (kind === 'captures') {
      if (p.status !== 'authorised' && p.status !== 'captured') {
        return serviceError(422, '9011', `Payment is ${p.status} (fake)`, 'validation');
      }
      if (value <= 0 || p.captured + value > p.amount) return serviceError(422, '137', 'Invalid amount specified', 'validation');
      p.captured += value;
      p.status = 'captured';
      p.captures.push({ id, reference: body.reference ?? null, amount: value });
      return { status: 201, body: answer };
    }
    // refunds
    if (value <= 0 || p.refunded + value > p.captured) return serviceError(422, '137', 'Invalid amount specified', 'validation');
    p.refunded += value;
    p.status = p.refunded === p.captured ? 'refunded' : 'partially_refunded';
    p.refunds.push({ id, reference: body.reference ?? null, amount: value });
    return { status: 201, body: answer };
  }

  function technicalCancel(body) {
    const err = missing(body, ['merchantAccount', 'paymentReference']);
    if (err) return err;
    const p = payments.find((x) => x.reference === body.paymentReference);
    if (p && p.status === 'authorised' && p.captured === 0) p.status = 'cancelled';
    const answer = { merchantAccount: body.merchantAccount, paymentReference: body.paymentReference, pspReference: psp(), status: 'received' };
    if (body.reference !== undefined) answer.reference = body.reference;
    return { status: 201, body: answer };
  }

  function route(method, path, headers, raw) {
    if (method === 'GET' && path === '/__ledger') {
      return {
        status: 200,
        body: {
          payments: payments.map((p) => ({
            id: p.id, reference: p.reference, amount: p.amount, currency: p.currency, status: p.status,
            captured: p.captured, refunded: p.refunded, refunds: p.refunds.map((r) => ({ ...r })),
          })),
        },
      };
    }
    if (method !== 'POST') return serviceError(404, '000', 'Not found', 'validation');
    if (!headers['x-api-key']) return serviceError(401, '000', 'HTTP Status Response - Unauthorized', 'security');
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return serviceError(400, '702', 'Unexpected input', 'validation');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return serviceError(400, '702', 'Unexpected input', 'validation');
    }
    if (!body.merchantAccount) return serviceError(403, '901', 'Invalid Merchant Account', 'security');
    if (path === '/payments') return authorize(body);
    if (path === '/cancels') return technicalCancel(body);
    const m = /^\/payments\/([^/]+)\/(captures|cancels|refunds)$/.exec(path);
    if (m) return modify(m[2], decodeURIComponent(m[1]), body);
    return serviceError(404, '000', 'Not found', 'validation');
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url, 'http://x').pathname.replace(/^\/v71(?=\/)/, '');
      const key = req.headers['idempotency-key'];
      let answer;
      const extra = {};
      if (req.method === 'POST' && key && path !== '/__ledger') {
        extra['idempotency-key'] = key;
        if (key.length > 64) {
          answer = serviceError(422, '9012', 'Idempotency-Key longer than 64 characters (fake)', 'validation');
        } else if (idempotent.has(key)) {
          answer = idempotent.get(key);
        } else {
          answer = route(req.method, path, req.headers, raw);
          // Security refusals are not stored: a corrected key may retry.
          if (answer.status !== 401 && answer.status !== 403) idempotent.set(key, answer);
        }
      } else {
        answer = route(req.method, path, req.headers, raw);
      }
      const text = JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json', 'pspReference': answer.body?.pspReference ?? '', ...extra });
      res.end(text);
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 0;
  const { url } = await start({ port });
  console.log(`listening on ${url}`);
}
