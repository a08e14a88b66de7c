// The rule preview page (www/), in headless Chromium on the real wasm binding.
// Each state is saved as a screenshot under tests/artifacts/ (git-ignored).
//
//   node --test tests/browser/
//
// Expected answers come from the same binding running in Node, so the page is
// checked against the engine, not against numbers written here.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { EXAMPLES } from '../../www/lib/examples.js';
import { keyForPosition } from '../../www/lib/traffic.js';
import { indexJson } from '../../www/lib/jsonloc.js';
import { loadEngine, samplePayments, startBrowser, openPage, setEditor, shot, luhnNumber } from './harness.mjs';

const FULL = EXAMPLES.find((e) => e.id === 'full').ruleSet;
const pretty = (v) => JSON.stringify(v, null, 2) + '\n';

describe('rule preview page', () => {
  let engine;
  let env;
  let page;

  before(async () => {
    engine = await loadEngine();
    env = await startBrowser();
    page = env.page;
    await openPage(page, env.server.url);
  });

  after(async () => {
    await env?.close();
  });

  it('loads with the engine, a valid starter rule set and the field catalogue', async () => {
    assert.equal(await page.locator('#status').getAttribute('data-errors'), '0');
    assert.match(await page.locator('#status').textContent(), /^Valid/);
    assert.equal(await page.locator('#engine-version').textContent(), `engine ${engine.version()}`);
    // the catalogue is fields(), row for row
    const names = await page.locator('#catalogue tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.field));
    assert.deepEqual(names, engine.fields().map((f) => f.name));
    // brand and funding selects are filled from the catalogue's values
    const brands = engine.fields().find((f) => f.name === 'card.brand').values;
    const options = await page.locator('#pf-brand option').evaluateAll((o) => o.map((x) => x.value).filter(Boolean));
    assert.deepEqual(options, brands);
    // a decision is already shown for the default form values
    assert.ok(['route', 'decline'].includes(await page.locator('#decision').getAttribute('data-action')));
    await shot(page, '01-loaded');
    assert.deepEqual(env.problems, []);
  });

  it('shows a misspelt field as an error at its line, with the suggestion, and clears it when fixed', async () => {
    const ruleSet = {
      name: 'typo',
      rules: [{ name: 'EUR to Adyen', if: { field: 'cur', eq: 'eur' }, then: { route: ['adyen_eu'] } }],
      default: { route: ['stripe'] },
    };
    const text = pretty(ruleSet);
    await setEditor(page, text);
    // type the rest of the field name by hand, misspelt: "cur" + "ency" = "curency"
    const at = text.indexOf('"cur"') + 4;
    await page.locator('#source').evaluate((ta, pos) => ta.setSelectionRange(pos, pos), at);
    await page.keyboard.type('ency');
    const typed = await page.locator('#source').inputValue();
    assert.ok(typed.includes('"field": "curency"'));

    const issue = page.locator('#issues .issue.error');
    await issue.first().waitFor();
    assert.equal(await issue.count(), 1);
    assert.equal(await issue.getAttribute('data-code'), 'unknown_field');
    assert.equal(await issue.getAttribute('data-path'), '/rules/0/if/field');
    const expectedLine = typed.slice(0, typed.indexOf('"curency"')).split('\n').length;
    const expectedCol = typed.indexOf('"curency"') - typed.lastIndexOf('\n', typed.indexOf('"curency"'));
    assert.equal(await issue.getAttribute('data-line'), String(expectedLine));
    assert.equal(await issue.getAttribute('data-col'), String(expectedCol));
    assert.match(await issue.locator('.msg').textContent(), /currency/, 'the message suggests the right field');
    // marked in the text itself and in the gutter
    assert.equal(await page.locator('#backdrop mark.error').textContent(), '"curency"');
    assert.equal(await page.locator('#gutter .ln.error').textContent(), String(expectedLine));
    assert.match(await page.locator('#status').textContent(), /1 error/);
    await page.locator('#decision', { hasText: 'Fix the rule set' }).waitFor(); // the decision follows a frame later
    // the engine agrees
    assert.equal(engine.validate(typed).errors[0].code, 'unknown_field');
    await shot(page, '02-misspelt-field');

    // Clicking the issue puts the cursor on the misspelt value.
    await issue.locator('.issue-main').click();
    const sel = await page.locator('#source').evaluate((ta) => ta.value.slice(ta.selectionStart, ta.selectionEnd));
    assert.equal(sel, '"curency"');

    // Fix it: with the suggestion button when the message offers one, else by typing.
    const fix = issue.locator('.fix');
    if (await fix.count()) {
      await fix.click();
    } else {
      await page.locator('#source').evaluate((ta) => {
        const p = ta.value.indexOf('curency');
        ta.setSelectionRange(p, p + 'curency'.length);
      });
      await page.keyboard.type('currency');
    }
    await page.waitForSelector('#status[data-errors="0"]');
    assert.ok((await page.locator('#source').inputValue()).includes('"field": "currency"'));
    assert.equal(await page.locator('#issues .issue').count(), 0);
    assert.equal(await page.locator('#backdrop mark').count(), 0);
    await shot(page, '03-fixed');
  });

  it('styles warnings apart from errors', async () => {
    const ruleSet = {
      name: 'warnings',
      rules: [
        { name: 'everything', then: { route: ['stripe'] } },
        { name: 'never reached', if: { field: 'currency', eq: 'eur' }, then: { route: ['adyen_eu'] } },
        { name: 'paused', enabled: false, if: { field: 'currency', eq: 'usd' }, then: { route: ['checkout'] } },
      ],
      default: { route: ['stripe'] },
    };
    const text = pretty(ruleSet);
    await setEditor(page, text);
    const expected = engine.validate(text);
    assert.equal(expected.ok, true);
    assert.ok(expected.warnings.length >= 2, 'the engine warns about the unreachable and the disabled rule');
    await page.waitForSelector('#status[data-warnings]:not([data-warnings="0"])');
    const rows = page.locator('#issues .issue.warning');
    assert.equal(await rows.count(), expected.warnings.length);
    assert.equal(await page.locator('#issues .issue.error').count(), 0);
    assert.deepEqual(
      (await rows.evaluateAll((r) => r.map((x) => x.dataset.code))).sort(),
      expected.warnings.map((w) => w.code).sort(),
    );
    assert.ok((await page.locator('#backdrop mark.warning').count()) >= 1);
    assert.match(await page.locator('#status').textContent(), /^Valid · 3 rules · \d+ warnings?/);
    await shot(page, '04-warnings');
    // a warning looks different from an error, in the list and in the text
    const style = (sel) => page.evaluate((q) => {
      const cs = getComputedStyle(document.querySelector(q));
      return `${cs.backgroundColor} ${cs.boxShadow}`;
    }, sel);
    const warningRow = await style('#issues .issue.warning');
    const warningMark = await style('#backdrop mark.warning');
    await setEditor(page, text.replace('"name": "paused"', '"name": "paused",\n      "bogus": 1'));
    await page.waitForSelector('#issues .issue.error[data-code="unknown_key"]');
    assert.equal(await page.locator('#backdrop mark.error').textContent(), '"bogus"', 'an unknown key is marked on the key');
    assert.notEqual(await style('#issues .issue.error'), warningRow);
    assert.notEqual(await style('#backdrop mark.error'), warningMark);
    await shot(page, '05-unknown-key');
  });

  it('checks processors against a known list when one is given, and suggests the nearest', async () => {
    const text = pretty({ ...FULL, default: { route: ['strpe'] } });
    await setEditor(page, text);
    await page.locator('.processors-setting summary').click();
    await page.fill('#known-processors', 'stripe, adyen_eu');
    const expected = engine.validate(text, { processors: ['stripe', 'adyen_eu'] });
    const codes = expected.errors.map((e) => `${e.code} ${e.path}`).sort();
    assert.ok(codes.includes('unknown_processor /default/route/0'));
    assert.ok(codes.some((c) => c.startsWith('unknown_processor /rules/2/then')), 'checkout is not in the list');
    await page.waitForSelector('#issues .issue.error[data-code="unknown_processor"]');
    const shown = (await page.locator('#issues .issue.error').evaluateAll((r) => r.map((x) => `${x.dataset.code} ${x.dataset.path}`))).sort();
    assert.deepEqual(shown, codes);
    const typo = page.locator('#issues .issue[data-path="/default/route/0"]');
    assert.match(await typo.textContent(), /stripe/);
    if (await typo.locator('.fix').count()) {
      await typo.locator('.fix').click();
      await page.waitForSelector('#issues .issue[data-path="/default/route/0"]', { state: 'detached' });
    }
    await shot(page, '06-known-processors');
    await page.fill('#known-processors', '');
    await page.locator('.processors-setting summary').click();
  });

  it('tries payments: the decision and the trace follow the form, as preview() decides in Node', async () => {
    const text = pretty(FULL);
    await setEditor(page, text);
    await page.waitForSelector('#status[data-errors="0"]');
    await page.locator('#tab-test').click();

    const fillPayment = async (v) => {
      await page.fill('#pf-amount', String(v.amount));
      await page.fill('#pf-currency', v.currency);
      await page.fill('#pf-card', v.card ?? '');
      await page.selectOption('#pf-funding', v.funding ?? '');
      await page.fill('#pf-country', v.country ?? '');
      await page.fill('#pf-billing', v.country ?? '');
      await page.fill('#pf-key', v.key ?? 'order_8812');
    };
    const expectFor = (v) => {
      const card = {};
      const digits = (v.card ?? '').replace(/\s/g, '');
      if (digits) card.number = digits;
      if (v.funding) card.funding = v.funding;
      if (v.country) card.country = v.country;
      return engine.preview(text, {
        amount: v.amount,
        currency: v.currency,
        card,
        ...(v.country ? { billing: { country: v.country } } : {}),
        capture_method: 'automatic',
        off_session: false,
        three_d_secure: false,
        metadata: { channel: 'web' },
        routing_key: v.key ?? 'order_8812',
      });
    };
    const decision = page.locator('#decision');

    // 1. small EUR payment: no rule matches, the default decides
    const small = { amount: 2500, currency: 'eur', card: '4000 0025 0000 3155', funding: 'credit', country: 'FR' };
    await fillPayment(small);
    let want = expectFor(small);
    assert.equal(want.rule, null);
    assert.equal(await decision.getAttribute('data-rule'), '');
    assert.equal(await decision.getAttribute('data-processors'), want.processors.join(','));
    assert.match(await decision.textContent(), /default/);
    // the trace names the failed amount condition with the payment's actual amount
    const amountRow = page.locator('#trace li', { hasText: 'large EUR credit cards to Adyen' });
    assert.equal(await amountRow.getAttribute('data-status'), 'failed');
    assert.match(await amountRow.textContent(), /amount is at least 10000/);
    assert.match(await amountRow.textContent(), /payment has 2500 \(25\.00 EUR\)/);
    assert.equal(await page.locator('#trace li[data-status]').count(), want.trace.length);
    await shot(page, '07-payment-default');

    // 2. large EUR credit payment: rule 2 routes to Adyen then Stripe
    const large = { ...small, amount: 12500 };
    await fillPayment(large);
    want = expectFor(large);
    assert.equal(want.rule, 'large EUR credit cards to Adyen');
    assert.equal(await decision.getAttribute('data-rule'), want.rule);
    assert.equal(await decision.getAttribute('data-processors'), want.processors.join(','));
    assert.equal(await amountRow.getAttribute('data-status'), 'matched');
    assert.equal(await page.locator('#decision .plan .chip').count(), want.processors.length);
    await shot(page, '08-payment-rule');

    // 3. a US card goes through the 70/30 split: the page shows the engine's pick for the routing key
    for (const key of ['order_1', 'order_2', 'order_3', 'order_4']) {
      const us = { amount: 4000, currency: 'usd', card: luhnNumber('424242'), funding: 'debit', country: 'US', key };
      await fillPayment(us);
      want = expectFor(us);
      assert.equal(want.rule, 'US cards: 70/30 test');
      assert.equal(await decision.getAttribute('data-processors'), want.processors.join(','));
      assert.match(await decision.textContent(), new RegExp(`Split picked ${want.trace.at(-1).split.picked}`));
    }
    await shot(page, '09-payment-split');

    // 4. a card from the leaked BIN range is declined, before any processor
    const leaked = { amount: 2500, currency: 'eur', card: luhnNumber('41111199'), funding: 'credit', country: 'FR' };
    await fillPayment(leaked);
    want = expectFor(leaked);
    assert.equal(want.action, 'decline');
    assert.equal(await decision.getAttribute('data-action'), 'decline');
    assert.match(await decision.textContent(), /do_not_honor/);
    await shot(page, '10-payment-decline');

    // 5. a card number failing the Luhn check is the payment's error, shown at the card field
    await page.fill('#pf-card', '4000 0025 0000 3156');
    assert.equal(await decision.getAttribute('data-action'), 'invalid');
    assert.equal(await page.locator('#pf-card').getAttribute('aria-invalid'), 'true');
    await shot(page, '11-payment-invalid-card');
  });

  it('never puts the card number in the URL, localStorage or sessionStorage', async () => {
    const number = luhnNumber('52000000', 16);
    await page.locator('#tab-test').click();
    await page.fill('#pf-card', number);
    await page.locator('#pf-card').press('Enter'); // a form submission must not put it in the URL
    await page.waitForTimeout(300); // past the draft's save debounce
    const seen = await page.evaluate(() => ({
      url: location.href,
      local: Object.keys(localStorage).map((k) => k + '=' + localStorage.getItem(k)).join('\n'),
      session: Object.keys(sessionStorage).map((k) => k + '=' + sessionStorage.getItem(k)).join('\n'),
      cookie: document.cookie,
      keys: Object.keys(localStorage),
    }));
    assert.ok(seen.keys.length >= 1, 'the draft itself is stored');
    for (const where of ['url', 'local', 'session', 'cookie']) {
      assert.ok(!seen[where].includes(number), `card number found in ${where}`);
      assert.ok(!seen[where].includes(number.slice(0, 12)), `card digits found in ${where}`);
    }
    assert.equal(new URL(seen.url).search, '');
    assert.equal(new URL(seen.url).hash, '');
  });

  it('simulates the shipped sample: per-processor and per-rule counts equal Router.simulate in Node', async () => {
    const text = pretty(FULL);
    await setEditor(page, text);
    await page.locator('#tab-sim').click();
    await page.locator('#sample-btn').click();
    await page.waitForSelector('#sim-result:not([hidden])');
    const sample = samplePayments();
    assert.ok(sample.length >= 10000);
    const router = new engine.Router(text);
    const want = router.simulate(sample);
    router.free();

    assert.equal(await page.locator('#sim-result').getAttribute('data-total'), String(want.total));
    const processors = Object.fromEntries(
      await page.locator('#table-processors tbody tr').evaluateAll((rows) => rows.map((r) => [r.dataset.processor, Number(r.dataset.count)])),
    );
    const declined = processors.declined ?? 0;
    delete processors.declined;
    assert.deepEqual(processors, want.by_processor);
    assert.equal(declined, want.declined);
    const rules = Object.fromEntries(
      await page.locator('#table-rules tbody tr').evaluateAll((rows) => rows.map((r) => [r.dataset.rule, Number(r.dataset.count)])),
    );
    assert.equal(rules['(default)'], want.default);
    delete rules['(default)'];
    for (const [name, count] of Object.entries(want.by_rule)) assert.equal(rules[name], count, `rule ${name}`);
    for (const [name, count] of Object.entries(rules)) assert.equal(want.by_rule[name] ?? 0, count, `rule ${name}`);
    // every processor and rule that decided something is drawn
    assert.ok(Object.keys(want.by_processor).length >= 3, 'the sample spreads over several processors');
    assert.ok(await page.locator('#chart-processors').evaluate((c) => c.width > 0 && c.height > 0));
    await shot(page, '12-simulation');
  });

  it('simulates a CSV file, giving rows without a routing key their position as key', async () => {
    const csv = [
      'amount,currency,card.country,card.funding,card.bin,off_session,metadata.channel',
      '12500,eur,FR,credit,400000,false,web',
      '2500,usd,US,debit,424242,no,app',
      '9900,usd,US,credit,555544,true,recurring',
      '300,gbp,GB,prepaid,41111199,0,web',
    ].join('\n');
    await page.locator('#traffic-file').setInputFiles({ name: 'payments.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.waitForSelector('#sim-result[data-total="4"]');
    const text = await page.locator('#source').inputValue();
    const router = new engine.Router(text);
    const payments = [
      { amount: 12500, currency: 'eur', card: { country: 'FR', funding: 'credit', bin: '400000' }, off_session: false, metadata: { channel: 'web' } },
      { amount: 2500, currency: 'usd', card: { country: 'US', funding: 'debit', bin: '424242' }, off_session: false, metadata: { channel: 'app' } },
      { amount: 9900, currency: 'usd', card: { country: 'US', funding: 'credit', bin: '555544' }, off_session: true, metadata: { channel: 'recurring' } },
      { amount: 300, currency: 'gbp', card: { country: 'GB', funding: 'prepaid', bin: '41111199' }, off_session: false, metadata: { channel: 'web' } },
    ].map((p, k) => ({ ...p, routing_key: keyForPosition(k) }));
    const want = router.simulate(payments);
    router.free();
    const processors = Object.fromEntries(
      await page.locator('#table-processors tbody tr').evaluateAll((rows) => rows.map((r) => [r.dataset.processor, Number(r.dataset.count)])),
    );
    assert.equal(processors.declined ?? 0, want.declined);
    delete processors.declined;
    assert.deepEqual(processors, want.by_processor);
    assert.equal(want.declined, 2, 'both leaked BINs are declined');
    await shot(page, '13-simulation-csv');
    // back to the sample for the comparison
    await page.locator('#sample-btn').click();
    await page.waitForSelector(`#sim-result[data-total="${samplePayments().length}"]`);
  });

  it('compares current and draft: how many payments change processor, from where to where', async () => {
    const current = pretty(FULL);
    await setEditor(page, current);
    await page.locator('#tab-compare').click();
    await page.locator('#baseline-from-draft').click();
    assert.match(await page.locator('#baseline-info').textContent(), /EU routing/);

    // the draft: a 50/50 test instead of 70/30, and Adyen from 50.00 EUR instead of 100.00
    const draftSet = structuredClone(FULL);
    draftSet.rules[1].if.all[1].gte = 5000;
    draftSet.rules[2].then.split[0].weight = 50;
    draftSet.rules[2].then.split[1].weight = 50;
    const draft = pretty(draftSet);
    await setEditor(page, draft);
    await page.waitForSelector('#status[data-errors="0"]');
    await page.locator('#compare-btn').click();
    await page.waitForSelector('#compare-result:not([hidden])');

    // expected, per payment, with route() on both routers over the same file
    const a = new engine.Router(current);
    const b = new engine.Router(draft);
    const first = (d) => (d.action === 'decline' ? 'declined' : d.processors[0]);
    const flows = new Map();
    let changed = 0;
    const sample = samplePayments();
    for (const p of sample) {
      const from = first(a.route(p));
      const to = first(b.route(p));
      if (from !== to) {
        changed++;
        flows.set(`${from}>${to}`, (flows.get(`${from}>${to}`) ?? 0) + 1);
      }
    }
    a.free();
    b.free();
    assert.ok(changed > 0, 'the draft moves some payments');
    assert.equal(await page.locator('#compare-result').getAttribute('data-changed'), String(changed));
    assert.equal(await page.locator('#compare-result').getAttribute('data-total'), String(sample.length));
    const shown = new Map(
      await page.locator('#compare-flows tbody tr').evaluateAll((rows) => rows.map((r) => [`${r.dataset.from}>${r.dataset.to}`, Number(r.dataset.count)])),
    );
    assert.deepEqual(shown, flows);
    await shot(page, '14-compare');

    // an identical draft changes nothing
    await setEditor(page, current);
    await page.waitForSelector('#status[data-errors="0"]');
    await page.locator('#compare-btn').click();
    await page.waitForSelector('#compare-result[data-changed="0"]');
    assert.match(await page.locator('#compare-flows').textContent(), /No payment changes processor/);
  });

  it('loads the starter examples, all valid', async () => {
    const ids = await page.locator('#example-select option').evaluateAll((o) => o.map((x) => x.value).filter(Boolean));
    assert.deepEqual(ids, EXAMPLES.map((e) => e.id));
    for (const ex of EXAMPLES) {
      await page.selectOption('#example-select', ex.id);
      await page.waitForFunction((name) => document.querySelector('#source').value.includes(name), ex.ruleSet.name);
      assert.deepEqual(JSON.parse(await page.locator('#source').inputValue()), ex.ruleSet);
      assert.equal(await page.locator('#status').getAttribute('data-errors'), '0', ex.id);
      assert.equal(engine.validate(ex.ruleSet).ok, true, ex.id);
    }
    // the catalogue inserts a condition at the cursor
    await page.locator('#tab-fields').click();
    // select the first rule's condition, then press the field: the condition is replaced
    const cond = indexJson(await page.locator('#source').inputValue()).nodes.get('/rules/0/if');
    await page.locator('#source').evaluate((ta, [a, b]) => {
      ta.focus();
      ta.setSelectionRange(a, b);
    }, [cond.start, cond.end]);
    await page.locator('#catalogue button.field-btn', { hasText: 'card.country' }).click();
    const withCondition = JSON.parse(await page.locator('#source').inputValue());
    assert.equal(withCondition.rules[0].if.field, 'card.country');
    assert.equal(await page.locator('#status').getAttribute('data-errors'), '0');
    await shot(page, '15-fields');
  });

  it('downloads the rule set as JSON and keeps the draft across a reload', async () => {
    const draftSet = structuredClone(FULL);
    draftSet.name = 'Kept across reloads';
    const draft = pretty(draftSet);
    await setEditor(page, draft);
    await page.waitForSelector('#status[data-errors="0"]');
    await env.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.server.url });
    await page.locator('#copy-btn').click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), draft);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-btn').click()]);
    assert.equal(download.suggestedFilename(), 'kept-across-reloads.json');
    assert.equal(await readFile(await download.path(), 'utf8'), draft);

    await page.locator('#tab-test').click();
    await page.fill('#pf-card', luhnNumber('40000025'));
    await page.waitForTimeout(300); // the draft is saved 250 ms after the last keystroke
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('#source').inputValue(), draft);
    assert.equal(await page.locator('#pf-card').inputValue(), '', 'the card number is not restored');
    assert.match(await page.locator('#baseline-info').textContent(), /EU routing/, 'the current rule set is kept too');
    await shot(page, '16-reloaded');
    assert.deepEqual(env.problems, []);
  });
});
