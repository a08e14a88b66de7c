// A fake Checkout.com Payments API, for the Checkout.com adapter's wire
// tests (crates/processors/tests/checkout_wire.rs) and the worker's
// end-to-end runs.
//
// It follows Checkout.com's published wire format: the API reference
// (api-reference.checkout.com, "Payments": request a payment, get payment
// details, get payment lists by reference, get payment actions, capture,
// void, refund), the "Response codes" and "Error codes" pages, the
// sandbox's response-code testing page, and what Checkout.com's official
// Node client checkout-sdk-node 5.2.1 sends and reads (paths, the
// `Authorization` and `Cko-Idempotency-Key` headers, the answers'
// shapes); tests/processors/checkout.test.mjs drives it with that client.
//
// - Auth: `Authorization: Bearer sk_...` (current platform) or a bare
//   `sk_...` key (Previous platform); anything else is 401, empty body.
// - `POST /payments`: 201 `{id, action_id, approved, status,
//   response_code, response_summary, ...}` (approved: status
//   `Authorized`, or `Captured` with `capture: true`; declined: status
//   `Declined`), 202 `{id, status: "Pending", _links.redirect}` when 3-D
//   Secure is needed, 422 `{request_id, error_type: "request_invalid",
//   error_codes}` on a validation failure (nothing is created).
// - `POST /payments/{id}/captures|voids|refunds`: 202 `{action_id,
//   reference, _links}`; 403 when the payment's state does not allow the
//   action; 404 for an unknown payment; 422 for a bad amount.
// - `GET /payments/{id}`, `GET /payments?reference=`, `GET
//   /payments/{id}/actions`.
// - Idempotency: a `Cko-Idempotency-Key` seen before on the same
//   endpoint answers the stored answer again; only 2xx answers are stored
//   (a validation failure or a 403 may be retried with the same key).
// - Test triggers (the sandbox's documented response-code testing, for
//   amounts in currencies with two decimals): an amount ending in 05 →
//   20005, 12 → 20012, 14 → 20014, 51 → 20051, 54 → 20054, 62 → 20062,
//   63 → 20063, 33 → 30033; ending in 9998 → 20068 (response received
//   too late), 4001 → 40101 (risk blocked). 3-D Secure: the card
//   4485040371536584, or `3ds.enabled: true` in the request, answers 202
//   Pending with a redirect (the payment stays Pending). Every other
//   amount and card is approved (10000).
// - `GET /__ledger`: `{payments: [{id, reference, amount, currency, status,
//   captured, refunded, refunds: [{id, reference, amount}]}]}`, for the
//   fault-injection run's reconciliation (not a Checkout.com endpoint).
//
// Card numbers are never logged or kept: a payment keeps the BIN and
// last four, as Checkout.com's answers show them.
//
// Usage: `node tests/fakes/checkout.mjs --port N`, or
// `import { start } from "./checkout.mjs"; const { url, close } = await start()`.

import http from "node:http";
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
function newId(prefix) {
  const bytes = randomBytes(26);
  let s = "";
  for (const b of bytes) s += BASE32[b & 31];
  return `${prefix}_${s}`;
}

const THREE_DS_CARD = "4485040371536584";
// Currencies without two decimals: no amount-driven response codes.
const NOT_DIVIDE_BY_100 = new Set([
  "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
  "VUV", "XAF", "XOF", "XPF", "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND",
]);

// The response codes this fake answers, with their summaries.
const SUMMARIES = {
  10000: "Approved",
  20005: "Declined - Do Not Honour",
  20012: "Invalid Transaction",
  20014: "Invalid Card Number",
  20051: "Insufficient Funds",
  20054: "Expired Card",
  20062: "Restricted Card",
  20063: "Security Violation",
  20068: "Response Received Too Late",
  30033: "Expired Card - Pick Up",
  40101: "Risk Blocked Transaction",
};

/** The documented amount-driven response code of an amount, if any. */
export function amountResponseCode(amount, currency) {
  if (NOT_DIVIDE_BY_100.has(currency)) return null;
  const s = String(amount);
  if (s.endsWith("9998")) return "20068";
  if (s.endsWith("4001")) return "40101";
  const last2 = s.slice(-2).padStart(2, "0");
  const byEnding = { "05": "20005", 12: "20012", 14: "20014", 51: "20051", 54: "20054", 62: "20062", 63: "20063", 33: "30033" };
  return byEnding[last2] ?? null;
}

function luhn(number) {
  let sum = 0;
  let dbl = false;
  for (let i = number.length - 1; i >= 0; i--) {
    let d = number.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

function schemeOf(number) {
  if (number.startsWith("4")) return "Visa";
  if (/^(5[1-5]|2[2-7])/.test(number)) return "Mastercard";
  if (/^3[47]/.test(number)) return "Amex";
  if (/^6(011|5)/.test(number)) return "Discover";
  if (/^35/.test(number)) return "JCB";
  if (/^3[068]/.test(number)) return "Diners Club International";
  return "Unknown";
}

export async function start({ port = 0 } = {}) {
  /** id → payment */
  const payments = new Map();
  /** "METHOD path key" → { status, body } (2xx answers only) */
  const idempotent = new Map();
  let base = "";

  const links = (p) => {
    const self = `${base}/payments/${p.id}`;
    const l = { self: { href: self }, actions: { href: `${self}/actions` } };
    if (p.status === "Authorized") {
      l.capture = { href: `${self}/captures` };
      l.void = { href: `${self}/voids` };
    }
    if (["Captured", "Partially Captured", "Partially Refunded"].includes(p.status)) {
      l.refund = { href: `${self}/refunds` };
    }
    if (p.status === "Pending") l.redirect = { href: `${base}/3ds/${p.id}` };
    return l;
  };

  const sourceOf = (p) => ({
    type: "card",
    id: p.source_id,
    expiry_month: p.card.expiry_month,
    expiry_year: p.card.expiry_year,
    scheme: p.card.scheme,
    last4: p.card.last4,
    bin: p.card.bin,
    card_type: "CREDIT",
    issuer_country: "GB",
  });

  const details = (p) => {
    const authorized = p.approved ? p.amount : 0;
    const voided = p.status === "Voided" ? p.amount : 0;
    const open = p.status === "Authorized";
    const d = {
      id: p.id,
      requested_on: p.requested_on,
      source: sourceOf(p),
      amount: p.amount,
      currency: p.currency,
      payment_type: "Regular",
      reference: p.reference,
      status: p.status,
      approved: p.approved,
      balances: {
        total_authorized: authorized,
        total_voided: voided,
        available_to_void: open ? p.amount : 0,
        total_captured: p.captured,
        available_to_capture: open ? p.amount : 0,
        total_refunded: p.refunded,
        available_to_refund: p.captured - p.refunded,
      },
      risk: { flagged: false },
      metadata: p.metadata,
      _links: links(p),
    };
    if (p.processing_channel_id) d.processing_channel_id = p.processing_channel_id;
    return d;
  };

  const invalid = (codes) => ({
    status: 422,
    body: { request_id: newId("req"), error_type: "request_invalid", error_codes: codes },
  });

  function requestPayment(req) {
    const codes = [];
    const src = req.source;
    if (!src || typeof src !== "object") codes.push("payment_source_required");
    else if (src.type !== "card") codes.push("payment_source_type_invalid");
    const amount = req.amount;
    if (amount === undefined) codes.push("amount_required");
    else if (!Number.isInteger(amount) || amount <= 0) codes.push("amount_invalid");
    const currency = req.currency;
    if (currency === undefined) codes.push("currency_required");
    else if (typeof currency !== "string" || !/^[A-Z]{3}$/.test(currency)) codes.push("currency_invalid");
    if (req.reference !== undefined && (typeof req.reference !== "string" || req.reference.length > 80)) {
      codes.push("reference_invalid");
    }
    if (req.capture !== undefined && typeof req.capture !== "boolean") codes.push("capture_invalid");
    let number = "";
    if (src && src.type === "card") {
      number = typeof src.number === "string" ? src.number : "";
      if (!number) codes.push("card_number_required");
      else if (!/^\d{12,19}$/.test(number) || !luhn(number)) codes.push("card_number_invalid");
      const m = src.expiry_month;
      const y = src.expiry_year;
      if (m === undefined) codes.push("card_expiry_month_required");
      else if (!Number.isInteger(m) || m < 1 || m > 12) codes.push("card_expiry_month_invalid");
      if (y === undefined) codes.push("card_expiry_year_required");
      else if (!Number.isInteger(y) || y < 1000) codes.push("card_expiry_year_invalid");
      else if (Number.isInteger(m)) {
        const now = new Date();
        const expired = y < now.getUTCFullYear() || (y === now.getUTCFullYear() && m < now.getUTCMonth() + 1);
        if (expired) codes.push("card_expired");
      }
      if (src.cvv !== undefined && (typeof src.cvv !== "string" || !/^\d{3,4}$/.test(src.cvv))) {
        codes.push("cvv_invalid");
      }
    }
    if (codes.length) return invalid(codes);

    const capture = req.capture !== false;
    const threeDs = number === THREE_DS_CARD || req["3ds"]?.enabled === true;
    const code = threeDs ? null : amountResponseCode(amount, currency) ?? "10000";
    const p = {
      id: newId("pay"),
      action_id: newId("act"),
      source_id: newId("src"),
      reference: req.reference ?? null,
      amount,
      currency,
      capture,
      requested_on: new Date().toISOString(),
      card: {
        expiry_month: src.expiry_month,
        expiry_year: src.expiry_year,
        scheme: schemeOf(number),
        last4: number.slice(-4),
        bin: number.slice(0, 6),
      },
      processing_channel_id: req.processing_channel_id,
      metadata: req.metadata ?? {},
      approved: false,
      status: "Pending",
      response_code: code,
      captured: 0,
      refunded: 0,
      actions: [],
      refunds: [],
    };
    payments.set(p.id, p);
    if (threeDs) {
      return {
        status: 202,
        body: {
          id: p.id,
          status: "Pending",
          reference: p.reference ?? undefined,
          "3ds": { downgraded: false, enrolled: "Y" },
          _links: links(p),
        },
      };
    }
    const approved = code === "10000";
    p.approved = approved;
    const processed_on = new Date().toISOString();
    p.actions.push({
      id: p.action_id,
      type: "Authorization",
      processed_on,
      amount,
      approved,
      response_code: code,
      response_summary: SUMMARIES[code],
      reference: p.reference ?? undefined,
    });
    if (approved && capture) {
      // Checkout.com captures an automatic-capture payment right after
      // its authorization: a Capture action of the full amount.
      p.status = "Captured";
      p.captured = amount;
      p.actions.push({
        id: newId("act"),
        type: "Capture",
        processed_on,
        amount,
        approved: true,
        response_code: "10000",
        response_summary: "Approved",
        reference: p.reference ?? undefined,
      });
    } else {
      p.status = approved ? "Authorized" : "Declined";
    }
    const body = {
      id: p.id,
      action_id: p.action_id,
      amount,
      currency,
      approved,
      status: p.status,
      response_code: code,
      response_summary: SUMMARIES[code],
      source: sourceOf(p),
      processed_on,
      reference: p.reference ?? undefined,
      risk: { flagged: code === "40101" },
      scheme_id: "114455763095262",
      processing: { acquirer_transaction_id: "8137549557", retrieval_reference_number: "000000000000" },
      _links: links(p),
    };
    if (approved) body.auth_code = "770687";
    return { status: 201, body };
  }

  function action(p, kind, req) {
    if (req !== null && (typeof req !== "object" || Array.isArray(req))) return invalid(["request_body_malformed"]);
    const body = req ?? {};
    if (body.reference !== undefined && (typeof body.reference !== "string" || body.reference.length > 80)) {
      return invalid(["reference_invalid"]);
    }
    if (body.amount !== undefined && (!Number.isInteger(body.amount) || body.amount <= 0)) {
      return invalid(["amount_invalid"]);
    }
    const notAllowed = { status: 403, body: null };
    let amount;
    if (kind === "Capture") {
      if (p.status !== "Authorized") return notAllowed;
      amount = body.amount ?? p.amount;
      if (amount > p.amount) return invalid(["amount_exceeds_balance"]);
      p.captured = amount;
      p.status = amount === p.amount ? "Captured" : "Partially Captured";
    } else if (kind === "Void") {
      if (p.status !== "Authorized") return notAllowed;
      amount = p.amount;
      p.status = "Voided";
    } else {
      if (!["Captured", "Partially Captured", "Partially Refunded"].includes(p.status)) return notAllowed;
      const available = p.captured - p.refunded;
      amount = body.amount ?? available;
      if (amount > available) return invalid(["refund_amount_exceeds_balance"]);
      p.refunded += amount;
      p.status = p.refunded === p.captured ? "Refunded" : "Partially Refunded";
    }
    const id = newId("act");
    p.actions.push({
      id,
      type: kind,
      processed_on: new Date().toISOString(),
      amount,
      approved: true,
      response_code: "10000",
      response_summary: "Approved",
      reference: body.reference,
    });
    if (kind === "Refund") p.refunds.push({ id, reference: body.reference ?? null, amount });
    return {
      status: 202,
      body: { action_id: id, reference: body.reference, _links: { payment: { href: `${base}/payments/${p.id}` } } },
    };
  }

  function authorized(req) {
    const h = req.headers.authorization ?? "";
    const key = h.startsWith("Bearer ") ? h.slice(7).trim() : h.trim();
    return key.startsWith("sk_") && key.length > 3;
  }

  function route(method, url, req, parsed) {
    const path = url.pathname.replace(/\/+$/, "");
    if (method === "POST" && path === "/payments") return requestPayment(parsed);
    if (method === "GET" && path === "/payments") {
      const reference = url.searchParams.get("reference");
      if (!reference) return invalid(["reference_required"]);
      const limit = Math.min(Math.max(Number(url.searchParams.get("limit") ?? 10) || 10, 1), 100);
      const skip = Math.max(Number(url.searchParams.get("skip") ?? 0) || 0, 0);
      const all = [...payments.values()].filter((p) => p.reference === reference).reverse();
      return {
        status: 200,
        body: { limit, skip, total_count: all.length, data: all.slice(skip, skip + limit).map(details) },
      };
    }
    const m = path.match(/^\/payments\/([^/]+)(?:\/(captures|voids|refunds|actions))?$/);
    if (!m) return { status: 404, body: null };
    const p = payments.get(decodeURIComponent(m[1]));
    if (!p) return { status: 404, body: null };
    if (method === "GET" && !m[2]) return { status: 200, body: details(p) };
    if (method === "GET" && m[2] === "actions") return { status: 200, body: [...p.actions].reverse() };
    if (method === "POST" && m[2] && m[2] !== "actions") {
      const kind = { captures: "Capture", voids: "Void", refunds: "Refund" }[m[2]];
      return action(p, kind, parsed);
    }
    return { status: 405, body: null };
  }

  function ledger() {
    return {
      payments: [...payments.values()].map((p) => ({
        id: p.id,
        reference: p.reference,
        amount: p.amount,
        currency: p.currency,
        status: p.status,
        captured: p.captured,
        refunded: p.refunded,
        refunds: p.refunds.map((r) => ({ ...r })),
      })),
    };
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url, base || "http://127.0.0.1");
      const send = ({ status, body }, replayed = false) => {
        const headers = { "Cko-Request-Id": newId("req"), "Cko-Version": "1.0.0" };
        if (replayed) headers["Cko-Idempotency-Replayed"] = "true";
        if (body === null || body === undefined) {
          res.writeHead(status, headers);
          res.end();
          return;
        }
        const text = JSON.stringify(body);
        headers["Content-Type"] = "application/json; charset=utf-8";
        res.writeHead(status, headers);
        res.end(text);
      };
      if (req.method === "GET" && url.pathname === "/__ledger") return send({ status: 200, body: ledger() });
      if (!authorized(req)) return send({ status: 401, body: null });
      const raw = Buffer.concat(chunks).toString("utf8");
      let parsed = null;
      if (req.method === "POST" && raw.trim() !== "") {
        try {
          parsed = JSON.parse(raw);
        } catch {
          return send(invalid(["request_body_malformed"]));
        }
      }
      if (req.method === "POST" && url.pathname === "/payments" && (parsed === null || typeof parsed !== "object")) {
        return send(invalid(["payment_source_required"]));
      }
      const key = req.method === "POST" ? req.headers["cko-idempotency-key"] : undefined;
      const slot = key ? `${req.method} ${url.pathname} ${key}` : null;
      if (slot && idempotent.has(slot)) return send(idempotent.get(slot), true);
      const answer = route(req.method, url, req, parsed);
      if (slot && answer.status >= 200 && answer.status < 300) idempotent.set(slot, answer);
      send(answer);
    });
  });

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  base = `http://127.0.0.1:${server.address().port}`;
  return {
    url: base,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : 0;
  const { url } = await start({ port });
  console.log(`listening on ${url}`);
}
