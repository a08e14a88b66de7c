// A fake Braintree GraphQL API, for the braintree adapter's wire tests and
// the lead's end-to-end runs.
//
// It follows Braintree's published GraphQL API: the endpoint `POST /graphql`
// with `{query, variables}`, `Authorization: Basic base64(public:private)`,
// a `Braintree-Version` header ("Making API Calls",
// https://developer.paypal.com/braintree/graphql/guides/making_api_calls);
// answers always HTTP 200 with `data` / `errors` (each error with
// `extensions.errorClass` and, for Braintree's validation errors,
// `extensions.legacyCode`) and `extensions.requestId`. The schema is
// `tests/fakes/braintree/schema.graphql`, the subset of Braintree's published
// schema (github.com/braintree/graphql-api) the adapter uses: every document
// is parsed and validated against it with `graphql` 16, and executed, so that
// variables are coerced against Braintree's input types; a document that does
// not parse or validate gets a VALIDATION error and nothing is executed.
//
// Behaviour, after Braintree's sandbox testing reference
// (https://developer.paypal.com/braintree/docs/reference/general/testing):
// - the AMOUNT decides a transaction: 0.01-1999.99 and 3001.00 up authorize;
//   2000.00-2999.99 are processor declined with that code (2001.00 is 2001,
//   Insufficient Funds; 2099.00 Cardholder Authentication Required);
//   3000.00-3000.99 fail (3000, Processor Network Unavailable); 5001.00 is
//   gateway rejected (APPLICATION_INCOMPLETE);
// - CVV 200 answers "does not match" (N), which the fake's gateway rules
//   (CVV rules on, as a merchant may set them) reject: GATEWAY_REJECTED, CVV;
// - a card number failing the Luhn check is not tokenized (81715).
// The currency is the merchant account's: `merchantAccountId` ending in
// `_xyz` (e.g. `acct_jpy`) is in XYZ, any other (or none) in USD. A submitted
// transaction is settled before its first refund or reversal (the sandbox's
// settlement batch); reversing a settled transaction refunds it in full, as
// Braintree documents for `reverseTransaction`.
//
// Braintree's GraphQL API has no idempotency key: the fake, like Braintree,
// creates a new transaction for every mutation, whatever its orderId.
//
// Test endpoints (not Braintree's): `GET /__ledger` (payments, captures,
// refunds, in minor units) and `GET /__documents` (every document received,
// and how many failed validation).
//
// Run: node tests/fakes/braintree.mjs --port N

import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSchema, parse, validate, execute, GraphQLError } from 'graphql';

const SCHEMA_PATH = fileURLToPath(new URL('./braintree/schema.graphql', import.meta.url));
export const schemaSource = readFileSync(SCHEMA_PATH, 'utf8');
export const schema = buildSchema(schemaSource);

const ZERO = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
const THREE = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);
const exponent = (c) => (ZERO.has(c) ? 0 : THREE.has(c) ? 3 : 2);

const PROCESSOR_TEXT = {
  2000: 'Do Not Honor', 2001: 'Insufficient Funds', 2002: 'Limit Exceeded', 2004: 'Expired Card',
  2005: 'Invalid Credit Card Number', 2010: 'Card Issuer Declined CVV', 2015: 'Transaction Not Allowed',
  2038: 'Processor Declined', 2044: 'Declined - Call Issuer', 2046: 'Declined',
  2047: 'Call Issuer. Pick Up Card', 2057: 'Issuer or Cardholder has put a restriction on the card',
  2099: 'Cardholder Authentication Required',
};
const HARD = new Set([2004, 2005, 2006, 2007, 2008, 2009, 2010, 2011, 2012, 2013, 2014, 2015, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024, 2027, 2028, 2029, 2030, 2031, 2032, 2033, 2036, 2037, 2039, 2041, 2043, 2044, 2045, 2047, 2049, 2050, 2051, 2052, 2053, 2054, 2055, 2056, 2058, 2059, 2060, 2061, 2107, 2108]);

function luhn(number) {
  if (!/^\d{12,19}$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let d = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

function bterror(message, errorClass, legacyCode, inputPath) {
  const extensions = { errorClass };
  if (legacyCode) extensions.legacyCode = legacyCode;
  if (inputPath) extensions.inputPath = inputPath;
  return new GraphQLError(message, { extensions });
}

export function createFake() {
  const paymentMethods = new Map();
  const transactions = new Map();
  const refunds = new Map();
  const documents = [];
  let invalidDocuments = 0;
  let seq = 0;
  const nextId = (prefix) => `${prefix}_${(++seq).toString(36).padStart(6, '0')}`;
  const now = () => new Date().toISOString();

  // Parses an Amount for a currency into minor units, or throws Braintree's
  // validation error.
  function minorUnits(value, currency, path) {
    const e = exponent(currency);
    const re = e === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{1,${e}})?$`);
    if (typeof value !== 'string' || !re.test(value)) {
      throw bterror('Amount is an invalid format.', 'VALIDATION', '81503', path);
    }
    const [whole, frac = ''] = value.split('.');
    const minor = BigInt(whole) * 10n ** BigInt(e) + BigInt((frac + '000').slice(0, e) || '0');
    if (minor <= 0n) throw bterror('Amount must be greater than zero.', 'VALIDATION', '81531', path);
    return Number(minor);
  }
  const major = (minor, currency) => {
    const e = exponent(currency);
    if (e === 0) return String(minor);
    const s = String(minor).padStart(e + 1, '0');
    return `${s.slice(0, -e)}.${s.slice(-e)}`;
  };
  const currencyOf = (account) => {
    const m = /_([a-z]{3})$/i.exec(account ?? '');
    return m ? m[1].toUpperCase() : 'USD';
  };

  const money = (minor, currency) => ({ value: major(minor, currency), currencyCode: currency });
  const event = (typename, status, minor, currency, extra = {}) => ({
    __typename: typename, status, timestamp: now(), amount: money(minor, currency), terminal: false, ...extra,
  });

  function txView(t) {
    return {
      __typename: 'Transaction',
      id: t.id, legacyId: t.id.replace(/^tx_/, ''),
      amount: money(t.amount, t.currency),
      merchantAccountId: t.merchantAccountId,
      orderId: t.orderId, status: t.status,
      statusHistory: [...t.history].reverse(),
      refunds: () => t.refunds.map((id) => refundView(refunds.get(id))),
    };
  }
  function refundView(r) {
    return {
      __typename: 'Refund',
      id: r.id, legacyId: r.id.replace(/^rf_/, ''),
      amount: money(r.amount, r.currency), orderId: r.orderId, status: r.status,
      statusHistory: [...r.history].reverse(), merchantAccountId: r.merchantAccountId,
      refundedTransaction: () => txView(transactions.get(r.transactionId)),
    };
  }
  function findTx(id, path) {
    const t = transactions.get(id);
    if (!t) throw bterror('An object with this ID was not found.', 'NOT_FOUND', undefined, path);
    return t;
  }
  function settle(t) {
    if (t.status === 'SUBMITTED_FOR_SETTLEMENT') {
      t.status = 'SETTLED';
      t.history.push(event('SettledEvent', 'SETTLED', t.amount, t.currency));
    }
  }

  function transact({ clientMutationId, paymentMethodId, transaction }, capture) {
    const pm = paymentMethods.get(paymentMethodId);
    if (!pm || pm.used) {
      throw bterror('Unknown or expired payment method ID.', 'VALIDATION', '91565', ['input', 'paymentMethodId']);
    }
    const currency = currencyOf(transaction.merchantAccountId);
    const amount = minorUnits(transaction.amount, currency, ['input', 'transaction', 'amount']);
    if (transaction.orderId != null && transaction.orderId.length > 255) {
      throw bterror('Order ID is too long.', 'VALIDATION', '91501', ['input', 'transaction', 'orderId']);
    }
    pm.used = true;
    const t = {
      id: nextId('tx'), orderId: transaction.orderId ?? null, amount, authorized: amount, currency,
      merchantAccountId: transaction.merchantAccountId ?? 'default_usd', status: '', history: [],
      captured: 0, refunds: [],
    };
    const cents = Math.round(amount * 100 / 10 ** exponent(currency)); // the amount in hundredths of the major unit
    const whole = Math.floor(cents / 100);
    if (whole >= 2000 && whole <= 2999) {
      const code = whole;
      t.status = 'PROCESSOR_DECLINED';
      t.history.push(event('ProcessorDeclinedEvent', 'PROCESSOR_DECLINED', amount, currency, {
        declineType: HARD.has(code) ? 'HARD' : 'SOFT', terminal: true,
        processorResponse: { legacyCode: String(code), message: PROCESSOR_TEXT[code] ?? 'Processor Declined' },
      }));
    } else if (whole === 3000) {
      t.status = 'FAILED';
      t.history.push(event('FailedEvent', 'FAILED', amount, currency, {
        terminal: true, processorResponse: { legacyCode: '3000', message: 'Processor Network Unavailable - Try Again' },
      }));
    } else if (cents === 500100) {
      t.status = 'GATEWAY_REJECTED';
      t.history.push(event('GatewayRejectedEvent', 'GATEWAY_REJECTED', amount, currency, {
        gatewayRejectionReason: 'APPLICATION_INCOMPLETE', terminal: true,
      }));
    } else if (pm.cvv === '200' || pm.cvv === '2000') {
      // Authorized by the processor, then rejected (and voided) by the CVV rule.
      t.history.push(event('AuthorizedEvent', 'AUTHORIZED', amount, currency, {
        processorResponse: { legacyCode: '1000', message: 'Approved' },
      }));
      t.status = 'GATEWAY_REJECTED';
      t.history.push(event('GatewayRejectedEvent', 'GATEWAY_REJECTED', amount, currency, {
        gatewayRejectionReason: 'CVV', terminal: true,
        processorResponse: { legacyCode: '1000', message: 'Approved' },
      }));
    } else {
      t.status = 'AUTHORIZED';
      t.history.push(event('AuthorizedEvent', 'AUTHORIZED', amount, currency, {
        processorResponse: { legacyCode: '1000', message: 'Approved' },
      }));
      if (capture) {
        t.status = 'SUBMITTED_FOR_SETTLEMENT';
        t.captured = amount;
        t.history.push(event('SubmittedForSettlementEvent', 'SUBMITTED_FOR_SETTLEMENT', amount, currency));
      }
    }
    transactions.set(t.id, t);
    return { clientMutationId, transaction: txView(t) };
  }

  function makeRefund(t, amount, orderId, merchantAccountId) {
    const r = {
      id: nextId('rf'), transactionId: t.id, amount, currency: t.currency, orderId: orderId ?? null,
      merchantAccountId: merchantAccountId ?? t.merchantAccountId, status: 'SUBMITTED_FOR_SETTLEMENT',
      history: [event('SubmittedForSettlementEvent', 'SUBMITTED_FOR_SETTLEMENT', amount, t.currency)],
    };
    refunds.set(r.id, r);
    t.refunds.push(r.id);
    return r;
  }
  const refunded = (t) => t.refunds.reduce((s, id) => s + refunds.get(id).amount, 0);

  function matches(input, node) {
    if (input.id?.is != null && node.id !== input.id.is) return false;
    if (input.id?.in != null && !input.id.in.includes(node.id)) return false;
    const o = input.orderId;
    if (o) {
      const v = node.orderId ?? '';
      if (o.is != null && v !== o.is) return false;
      if (o.isNot != null && v === o.isNot) return false;
      if (o.startsWith != null && !v.startsWith(o.startsWith)) return false;
      if (o.endsWith != null && !v.endsWith(o.endsWith)) return false;
      if (o.contains != null && !v.includes(o.contains)) return false;
    }
    return true;
  }
  const connection = (nodes, first) => ({
    edges: nodes.slice(0, first ?? 50).map((node) => ({ cursor: node.id, node })),
    pageInfo: { hasNextPage: nodes.length > (first ?? 50), hasPreviousPage: false, startCursor: null, endCursor: null },
  });

  const root = {
    ping: () => 'pong',
    search: () => ({
      transactions: ({ input, first }) => connection(
        [...transactions.values()].filter((t) => matches(input, t)).map(txView), first),
      refunds: ({ input, first }) => connection(
        [...refunds.values()].filter((r) => matches(input, r)).map(refundView), first),
    }),
    tokenizeCreditCard: ({ input }) => {
      const c = input.creditCard;
      if (!luhn(c.number ?? '')) {
        throw bterror('Credit card number is invalid.', 'VALIDATION', '81715', ['input', 'creditCard', 'number']);
      }
      const m = Number(c.expirationMonth);
      if (!(m >= 1 && m <= 12) || !/^\d{4}$/.test(c.expirationYear ?? '')) {
        throw bterror('Expiration date is invalid.', 'VALIDATION', '81710', ['input', 'creditCard']);
      }
      const id = nextId('tokencc');
      paymentMethods.set(id, { cvv: c.cvv ?? null, used: false });
      return { clientMutationId: input.clientMutationId, paymentMethod: { id, legacyId: id, usage: 'SINGLE_USE' } };
    },
    authorizePaymentMethod: ({ input }) => transact(input, false),
    chargePaymentMethod: ({ input }) => transact(input, true),
    captureTransaction: ({ input }) => {
      const t = findTx(input.transactionId, ['input', 'transactionId']);
      if (t.status !== 'AUTHORIZED') {
        throw bterror('Cannot submit for settlement unless status is authorized.', 'VALIDATION', '91507', ['input', 'transactionId']);
      }
      const value = input.amount ?? input.transaction?.amount;
      const amount = value == null ? t.authorized : minorUnits(value, t.currency, ['input', 'amount']);
      if (amount > t.authorized) {
        throw bterror('Settlement amount is too large.', 'VALIDATION', '91522', ['input', 'amount']);
      }
      t.amount = amount;
      t.captured = amount;
      t.status = 'SUBMITTED_FOR_SETTLEMENT';
      t.history.push(event('SubmittedForSettlementEvent', 'SUBMITTED_FOR_SETTLEMENT', amount, t.currency));
      return { clientMutationId: input.clientMutationId, transaction: txView(t) };
    },
    reverseTransaction: ({ input }) => {
      const t = findTx(input.transactionId, ['input', 'transactionId']);
      if (t.status === 'AUTHORIZED' || t.status === 'SUBMITTED_FOR_SETTLEMENT') {
        t.status = 'VOIDED';
        t.captured = 0;
        t.history.push(event('VoidedEvent', 'VOIDED', t.amount, t.currency, { terminal: true }));
        return { clientMutationId: input.clientMutationId, reversal: txView(t) };
      }
      if (t.status === 'SETTLED' && refunded(t) === 0) {
        const r = makeRefund(t, t.amount, null, null);
        return { clientMutationId: input.clientMutationId, reversal: refundView(r) };
      }
      throw bterror('Transaction can only be reversed if it is authorized, submitted for settlement or settled.', 'VALIDATION', '91530', ['input', 'transactionId']);
    },
    refundTransaction: ({ input }) => {
      const t = findTx(input.transactionId, ['input', 'transactionId']);
      settle(t);
      if (t.status !== 'SETTLED' && t.status !== 'SETTLING') {
        throw bterror('Cannot refund transaction unless it is settled.', 'VALIDATION', '91506', ['input', 'transactionId']);
      }
      const left = t.amount - refunded(t);
      const value = input.refund?.amount;
      const amount = value == null ? left : minorUnits(value, t.currency, ['input', 'refund', 'amount']);
      if (amount > left) {
        throw bterror('Refund amount is too large.', 'VALIDATION', '91521', ['input', 'refund', 'amount']);
      }
      const r = makeRefund(t, amount, input.refund?.orderId, input.refund?.merchantAccountId);
      return { clientMutationId: input.clientMutationId, refund: refundView(r) };
    },
  };

  function ledger() {
    return {
      payments: [...transactions.values()].map((t) => ({
        id: t.id, reference: t.orderId, amount: t.authorized, currency: t.currency, status: t.status,
        captured: t.captured, refunded: refunded(t),
        refunds: t.refunds.map((id) => refunds.get(id)).map((r) => ({ id: r.id, reference: r.orderId, amount: r.amount })),
      })),
    };
  }

  async function handle(req, res) {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/__ledger') return send(200, ledger());
    if (req.method === 'GET' && url.pathname === '/__documents') return send(200, { documents, invalid: invalidDocuments });
    if (url.pathname !== '/graphql' || req.method !== 'POST') return send(404, { error: 'not found' });
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const extensions = { requestId: randomUUID() };
    const fail = (message, errorClass, status = 200) => send(status, { errors: [{ message, extensions: { errorClass } }], extensions });

    const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const pair = auth ? Buffer.from(auth[1], 'base64').toString('utf8') : '';
    const [pub, priv] = [pair.slice(0, pair.indexOf(':')), pair.slice(pair.indexOf(':') + 1)];
    if (!auth || pair.indexOf(':') < 1 || !priv) return fail('Authentication failed.', 'AUTHENTICATION');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(req.headers['braintree-version'] ?? '')) {
      return fail('A Braintree-Version header (YYYY-MM-DD) is required.', 'UNSUPPORTED_CLIENT');
    }
    void pub;
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return fail('The request body is not valid JSON.', 'VALIDATION');
    }
    if (typeof body?.query !== 'string') return fail('A query is required.', 'VALIDATION');
    documents.push(body.query);
    let document;
    try {
      document = parse(body.query);
    } catch (e) {
      invalidDocuments++;
      return fail(e.message, 'VALIDATION');
    }
    const errors = validate(schema, document);
    if (errors.length) {
      invalidDocuments++;
      return send(200, { errors: errors.map((e) => ({ message: e.message, locations: e.locations, extensions: { errorClass: 'VALIDATION' } })), extensions });
    }
    const result = await execute({ schema, document, rootValue: root, variableValues: body.variables ?? {} });
    const out = { extensions };
    if ('data' in result) out.data = result.data;
    if (result.errors?.length) {
      out.errors = result.errors.map((e) => ({
        message: e.message, locations: e.locations, path: e.path,
        // Variable coercion errors (an input Braintree's types refuse) carry
        // no class of their own: Braintree reports them as validation.
        extensions: { errorClass: 'VALIDATION', ...(e.extensions ?? {}) },
      }));
    }
    return send(200, out);
  }

  return { handle, ledger, documents: () => documents };
}

export async function start({ port = 0 } = {}) {
  const fake = createFake();
  const server = createServer((req, res) => {
    fake.handle(req, res).catch((e) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: String(e?.message ?? e), extensions: { errorClass: 'INTERNAL' } }] }));
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    fake,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 0;
  const { url } = await start({ port });
  console.log(`listening on ${url}`);
}
