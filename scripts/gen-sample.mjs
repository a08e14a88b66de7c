#!/usr/bin/env node
// Generates www/sample-payments.json: 10,000 varied, realistic-looking preview
// payments for the rule preview page's traffic simulation.
//
// Deterministic: a fixed-seed PRNG, no clock, no Math.random, so running it
// again produces the same bytes (`node scripts/gen-sample.mjs && git diff`
// shows nothing). No card numbers: cards carry a BIN, brand, country, funding
// and issuer, as the engine's payment input allows (rules.md, Payment input).
//
// Usage: node scripts/gen-sample.mjs [count] [output-path]

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mulberry32 as prng } from './prng.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const count = Number(process.argv[2] ?? 10000);
const out = process.argv[3] ?? join(here, '..', 'www', 'sample-payments.json');

const rand = prng(20261126);
const chance = (p) => rand() < p;
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
function weighted(table) {
  // table: [[value, weight], ...]
  let total = 0;
  for (const [, w] of table) total += w;
  let r = rand() * total;
  for (const [v, w] of table) {
    if ((r -= w) < 0) return v;
  }
  return table[table.length - 1][0];
}
const digits = (n) => Array.from({ length: n }, () => int(0, 9)).join('');

// Market: currency, issuing countries, typical amount (minor units), zero-decimal?
const markets = [
  { currency: 'eur', weight: 38, countries: [['FR', 25], ['DE', 30], ['ES', 12], ['IT', 12], ['NL', 10], ['BE', 5], ['IE', 3], ['AT', 3]], median: 6500 },
  { currency: 'usd', weight: 26, countries: [['US', 85], ['CA', 5], ['MX', 4], ['GB', 3], ['BR', 3]], median: 7200 },
  { currency: 'gbp', weight: 14, countries: [['GB', 92], ['IE', 5], ['US', 3]], median: 5400 },
  { currency: 'sek', weight: 4, countries: [['SE', 95], ['NO', 5]], median: 62000 },
  { currency: 'pln', weight: 4, countries: [['PL', 97], ['DE', 3]], median: 21000 },
  { currency: 'chf', weight: 3, countries: [['CH', 90], ['DE', 6], ['FR', 4]], median: 9000 },
  { currency: 'jpy', weight: 4, countries: [['JP', 95], ['US', 5]], median: 6800 },
  { currency: 'cad', weight: 3, countries: [['CA', 94], ['US', 6]], median: 8100 },
  { currency: 'aud', weight: 2, countries: [['AU', 96], ['NZ', 4]], median: 8800 },
  { currency: 'brl', weight: 2, countries: [['BR', 100]], median: 24000 },
];

const brands = [
  ['visa', 50], ['mastercard', 33], ['amex', 7], ['maestro', 2], ['discover', 2],
  ['jcb', 1.5], ['diners', 1], ['unionpay', 1], ['cartes_bancaires', 2], ['unknown', 0.5],
];
const binPrefix = {
  visa: () => '4' + digits(5),
  mastercard: () => (chance(0.8) ? String(int(51, 55)) + digits(4) : String(int(2221, 2720)) + digits(2)),
  amex: () => (chance(0.5) ? '34' : '37') + digits(4),
  maestro: () => '6759' + digits(2),
  discover: () => '6011' + digits(2),
  jcb: () => '35' + String(int(28, 89)) + digits(2),
  diners: () => '36' + digits(4),
  unionpay: () => '62' + digits(4),
  cartes_bancaires: () => '4970' + digits(2),
  unknown: () => '9' + digits(5),
};
const issuers = {
  FR: ['BNP Paribas', 'Societe Generale', 'Credit Agricole', 'Boursorama'],
  DE: ['Deutsche Bank', 'Commerzbank', 'Sparkasse', 'N26'],
  ES: ['Santander', 'BBVA', 'CaixaBank'],
  IT: ['Intesa Sanpaolo', 'UniCredit'],
  NL: ['ING', 'Rabobank', 'ABN AMRO'],
  BE: ['KBC', 'Belfius'], IE: ['AIB', 'Bank of Ireland'], AT: ['Erste Bank'],
  US: ['Chase', 'Bank of America', 'Wells Fargo', 'Capital One', 'Citibank'],
  CA: ['RBC', 'TD Bank'], MX: ['BBVA Mexico'], BR: ['Itau', 'Nubank'],
  GB: ['Barclays', 'HSBC UK', 'Lloyds', 'Monzo', 'Revolut'],
  SE: ['Swedbank', 'SEB'], NO: ['DNB'], PL: ['PKO BP', 'mBank'], CH: ['UBS', 'PostFinance'],
  JP: ['MUFG', 'Rakuten Card'], AU: ['Commonwealth Bank', 'Westpac'], NZ: ['ANZ NZ'],
};
// A few payments come from a "leaked" BIN range, so the BIN-block example matches something.
const leakedBins = ['41111199', '55554412'];

function amountFor(median, currency) {
  // Log-normal-ish: most payments near the median, a long tail of large ones.
  const u = rand() + rand() + rand() - 1.5; // roughly normal, sd ~0.5
  let a = Math.round(median * Math.exp(u * 1.6));
  if (chance(0.03)) a *= int(5, 20); // occasional big basket
  if (currency === 'jpy') a = Math.max(50, Math.round(a / 10) * 10);
  else a = Math.max(50, Math.round(a / 5) * 5 - (chance(0.4) ? 1 : 0));
  return a;
}

const payments = [];
for (let i = 0; i < count; i++) {
  const market = weighted(markets.map((m) => [m, m.weight]));
  const country = weighted(market.countries);
  const brand = country === 'FR' && chance(0.35) ? 'cartes_bancaires' : weighted(brands);
  const offSession = chance(0.16);
  const p = {
    amount: amountFor(market.median, market.currency),
    currency: chance(0.03) ? market.currency.toUpperCase() : market.currency,
  };
  const card = {};
  if (chance(0.004)) {
    card.bin = leakedBins[int(0, leakedBins.length - 1)];
    card.brand = card.bin.startsWith('4') ? 'visa' : 'mastercard';
  } else {
    card.bin = binPrefix[brand]() + (chance(0.6) ? digits(2) : '');
    card.brand = brand;
  }
  if (chance(0.97)) card.country = country;
  card.funding = weighted([['credit', 52], ['debit', 38], ['prepaid', 7], ['unknown', 3]]);
  if (chance(0.85)) {
    const list = issuers[country] ?? ['Other Bank'];
    card.issuer = list[int(0, list.length - 1)];
  }
  p.card = card;
  if (chance(0.92)) {
    p.billing = { country: chance(0.9) ? country : weighted(market.countries.concat([['US', 2], ['GB', 2], ['DE', 2]])) };
  }
  p.capture_method = offSession ? 'automatic' : weighted([['automatic', 82], ['manual', 18]]);
  p.off_session = offSession;
  const sca = ['eur', 'gbp', 'sek', 'pln', 'chf'].includes(market.currency);
  p.three_d_secure = !offSession && (sca ? chance(0.7) : chance(0.12));
  const metadata = {
    channel: offSession ? 'recurring' : weighted([['web', 60], ['app', 32], ['moto', 3], ['pos', 5]]),
  };
  if (offSession) metadata.plan = weighted([['monthly', 70], ['annual', 20], ['usage', 10]]);
  if (chance(0.25)) metadata.campaign = weighted([['black_friday', 50], ['newsletter', 30], ['affiliate', 20]]);
  p.metadata = metadata;
  p.routing_key = 'pay_' + String(i + 1).padStart(6, '0');
  payments.push(p);
}

// One payment per line: readable diffs, still a plain JSON array.
const text = '[\n' + payments.map((p) => JSON.stringify(p)).join(',\n') + '\n]\n';
writeFileSync(out, text);
console.log(`wrote ${payments.length} payments (${(text.length / 1024).toFixed(0)} KiB) to ${out}`);
