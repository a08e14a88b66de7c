// Numbers of the processor dashboard as text: amounts in a currency's
// minor units, rates, latencies and counts. A missing value (`null`,
// `undefined`) is always "—". Pure; the locale defaults to en-US, as the
// preview page's numbers.

export const NONE = '—';

// The worker's own tables (src/money.rs): the number of decimals of an
// amount's minor unit is Stripe's, which is not always ISO 4217's (ISK,
// whole krónur in ISO 4217, is in hundredths here): these are in whole
// units, these five in thousandths, every other in hundredths.
const ZERO_DECIMAL = new Set([
  'bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv',
  'xaf', 'xof', 'xpf',
]);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

const missing = (v) => v === null || v === undefined;

/** The decimals of a currency's minor unit: 0 (jpy, krw, ...), 3 (bhd, kwd, ...) or 2. */
export function currencyDecimals(currency) {
  const c = String(currency ?? '').toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

const moneyFormats = new Map();
function moneyFormat(code, digits, locale) {
  const k = `${locale}|${code}|${digits}`;
  let f = moneyFormats.get(k);
  if (!f) {
    try {
      f = new Intl.NumberFormat(locale, {
        style: 'currency', currency: code, currencyDisplay: 'code',
        minimumFractionDigits: digits, maximumFractionDigits: digits,
      });
    } catch {
      // Not a currency code Intl knows: the number, then the code.
      const n = new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits });
      f = { format: (v) => `${n.format(v)} ${code}` };
    }
    moneyFormats.set(k, f);
  }
  return f;
}

/**
 * An amount in minor units as money: formatAmount(123456, 'usd') is
 * "USD 1,234.56", formatAmount(1500, 'jpy') "JPY 1,500",
 * formatAmount(1250, 'kwd') "KWD 1.250". Exact for any integer (the
 * decimal string is built with integer arithmetic, not by dividing).
 */
export function formatAmount(minor, currency, locale = 'en-US') {
  if (missing(minor) || !Number.isFinite(Number(minor))) return NONE;
  const digits = currencyDecimals(currency);
  const code = String(currency ?? '').toUpperCase() || '???';
  const n = BigInt(Math.trunc(Number(minor)));
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const scale = 10n ** BigInt(digits);
  const whole = abs / scale;
  const frac = (abs % scale).toString().padStart(digits, '0');
  const text = `${neg ? '-' : ''}${whole}${digits ? `.${frac}` : ''}`;
  return moneyFormat(code, digits, locale).format(text);
}

/**
 * Amounts per currency (`{"usd": 12345, "jpy": 1500}`, as the API answers
 * them) as a list of texts, by currency code; [] for none.
 */
export function formatAmounts(amounts, locale = 'en-US') {
  if (!amounts || typeof amounts !== 'object') return [];
  return Object.keys(amounts)
    .sort()
    .map((c) => formatAmount(amounts[c], c, locale));
}

/** 0.9166 -> "91.7%"; null -> "—". */
export function formatRate(rate, locale = 'en-US') {
  if (missing(rate) || !Number.isFinite(Number(rate))) return NONE;
  return new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(Number(rate));
}

/** 41 -> "41 ms"; null -> "—". */
export function formatMs(ms, locale = 'en-US') {
  if (missing(ms) || !Number.isFinite(Number(ms))) return NONE;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(Number(ms))} ms`;
}

/** 12345 -> "12,345"; null -> "—". */
export function formatCount(n, locale = 'en-US') {
  if (missing(n) || !Number.isFinite(Number(n))) return NONE;
  return new Intl.NumberFormat(locale).format(Number(n));
}
