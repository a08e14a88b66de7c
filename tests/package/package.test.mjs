// The npm package (docs/js.md, "Package") as a checkout developer gets it:
// built by scripts/build-package.sh, packed by npm pack, installed offline
// from the tarball into a fresh project, then used from Node as an ES module
// and as CommonJS, from TypeScript (tsc --strict against the shipped types,
// Node and bundler resolution), and from an esbuild bundle and a Vite build
// in headless Chromium. Each routes every golden case (tests/cases), compared with the
// cases' expectations by tests/node/cases.mjs. The examples/ are run too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { chromium } from 'playwright-core';
import { ROOT, loadCases, decisionProblems, issueProblems, expectedSimulation, report, echoProblem } from '../node/cases.mjs';
import { serve } from '../browser/serve.mjs';

const NAME = '@switchyard/routing';
const HERE = path.join(ROOT, 'tests/package');
const CASES = loadCases();
const CASE = Object.fromEntries(CASES.map(({ name, c }) => [name, c]));
const TSC = process.env.TSC_BIN ?? path.join(ROOT, 'node_modules/typescript/bin/tsc');
const ESBUILD = process.env.ESBUILD_BIN ?? path.join(ROOT, 'node_modules/.bin/esbuild');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const VITE = path.join(ROOT, 'node_modules/vite/bin/vite.js');

let dir; // the consumer project
let tarball;
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

before(() => {
  // www/pkg is built by the test command's earlier stage; build it when it is not.
  const reuse = fs.existsSync(path.join(ROOT, 'www/pkg/switchyard_bg.wasm')) ? ['--reuse-pkg'] : [];
  const line = execFileSync('bash', ['scripts/build-package.sh', ...reuse], { cwd: ROOT, encoding: 'utf8' });
  console.log(line.trim());
  tarball = fs.readdirSync(path.join(ROOT, 'dist')).find((n) => /^switchyard-routing-.*\.tgz$/.test(n));
  assert.ok(tarball, 'npm pack wrote no tarball');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-package-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'checkout', private: true }));
  // A local tarball with no dependencies installs without the registry.
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(ROOT, 'dist', tarball)]);
  for (const f of fs.readdirSync(path.join(HERE, 'fixture'))) fs.copyFileSync(path.join(HERE, 'fixture', f), path.join(dir, f));
  fs.copyFileSync(path.join(HERE, 'runner.mjs'), path.join(dir, 'runner.mjs'));
  fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(CASES));
});

after(() => {
  if (dir && !process.env.KEEP_PACKAGE_TEST) fs.rmSync(dir, { recursive: true, force: true });
});

/** Compares a runner.mjs result (JSON text) with the cases; one line per disagreement. */
function compare(json, where) {
  const { version, results } = JSON.parse(json);
  assert.match(version, /^\d+\.\d+\.\d+/);
  assert.equal(results.length, CASES.length, `${where}: ${results.length} results for ${CASES.length} cases`);
  const failures = [];
  const thrown = (r) => `threw ${r.thrown.name}: ${r.thrown.message}`;
  const isSyError = (r) => r?.thrown?.switchyardError === true && r.thrown.name === 'SwitchyardError' && Array.isArray(r.thrown.issues) && r.thrown.issues.length > 0;
  for (const { name, out } of results) {
    const c = CASE[name];
    const fail = (msg) => failures.push(`${where}: ${name}: ${msg}`);
    if (out.thrown) {
      fail(`runner ${thrown(out)}`);
      continue;
    }
    if ('decision' in c.expect) {
      const exp = c.expect.decision;
      for (const [via, withTrace] of [['preview', true], ['traced', true], ['route', false], ['perCall', false]]) {
        const d = out[via];
        if (d === undefined) fail(`${via}: not run (${out.router ? thrown(out.router) : 'no router'})`);
        else if (d.thrown) fail(`${via} ${thrown(d)}`);
        else {
          decisionProblems(exp, d, { withTrace }).forEach((p) => fail(`${via}: ${p}`));
          echoProblem(c, via, JSON.stringify(d)).forEach(fail);
          if (!withTrace && 'trace' in d) fail(`${via}: a trace without {trace: true}`);
        }
      }
      if (out.simulate && !isDeepStrictEqual(out.simulate, expectedSimulation(exp)))
        fail(`simulate: expected ${JSON.stringify(expectedSimulation(exp))}, got ${JSON.stringify(out.simulate)}`);
    } else if ('payment_errors' in c.expect) {
      for (const via of ['preview', 'route']) {
        if (!isSyError(out[via])) fail(`${via} did not throw a SwitchyardError: ${JSON.stringify(out[via])}`);
        else {
          issueProblems(`${via} issues`, c.expect.payment_errors, out[via].thrown.issues).forEach(fail);
          echoProblem(c, via, JSON.stringify(out[via])).forEach(fail);
        }
      }
    } else {
      const { errors, warnings } = c.expect;
      const v = out.validate;
      if (v.thrown) fail(`validate ${thrown(v)}`);
      else {
        issueProblems('errors', errors, v.errors).forEach(fail);
        issueProblems('warnings', warnings, v.warnings).forEach(fail);
        if (v.ok !== (errors.length === 0)) fail(`ok is ${v.ok} with ${errors.length} expected errors`);
      }
      if (errors.length === 0 && !out.router.built) fail(`new Router threw for a valid rule set: ${JSON.stringify(out.router)}`);
      if (errors.length > 0) {
        if (!isSyError(out.router)) fail(`new Router did not throw a SwitchyardError: ${JSON.stringify(out.router)}`);
        else issueProblems('Router issues', errors, out.router.thrown.issues).forEach(fail);
      }
    }
  }
  report(failures, CASES.length);
}

test('the package holds what package.json names, and nothing of the build', () => {
  const list = run('tar', ['-tzf', path.join(ROOT, 'dist', tarball)]).trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
  for (const f of ['LICENSE', 'README.md', 'package.json', 'switchyard.js', 'switchyard.d.ts', 'switchyard_bg.wasm', 'node.cjs', 'node.mjs', 'node.d.ts', 'node.d.cts'])
    assert.ok(list.includes(f), `${f} is in the tarball`);
  assert.deepEqual(list.filter((f) => !/^(snippets\/.*\.js|[^/]+)$/.test(f)), []);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', NAME, 'package.json'), 'utf8'));
  const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
  assert.equal(pkg.version, /\[workspace\.package\][^[]*?\nversion\s*=\s*"([^"]+)"/.exec(cargo)[1]);
  assert.equal(pkg.license, 'Apache-2.0');
  assert.equal(pkg.dependencies, undefined);
  assert.equal(fs.readFileSync(path.join(dir, 'node_modules', NAME, 'LICENSE'), 'utf8'), fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8'));
});

test('Node, ES module: import and route, no init call', () => {
  fs.writeFileSync(path.join(dir, 'esm.mjs'), [
    "import fs from 'node:fs';",
    `import * as sy from '${NAME}';`,
    "import { runCases } from './runner.mjs';",
    'fs.writeFileSync(process.argv[3], runCases(sy, JSON.parse(fs.readFileSync(process.argv[2], "utf8"))));',
  ].join('\n'));
  run(process.execPath, ['esm.mjs', 'cases.json', 'esm.json']);
  compare(fs.readFileSync(path.join(dir, 'esm.json'), 'utf8'), 'ESM');
});

test('Node, CommonJS: require and route; import and require share one engine', () => {
  fs.writeFileSync(path.join(dir, 'cjs.cjs'), [
    "'use strict';",
    "const fs = require('node:fs');",
    `const sy = require('${NAME}');`,
    "import('./runner.mjs').then(async ({ runCases }) => {",
    '  fs.writeFileSync(process.argv[3], runCases(sy, JSON.parse(fs.readFileSync(process.argv[2], "utf8"))));',
    `  const esm = await import('${NAME}');`,
    "  if (esm.SwitchyardError !== sy.SwitchyardError || esm.Router !== sy.Router) throw new Error('two copies');",
    '});',
  ].join('\n'));
  run(process.execPath, ['cjs.cjs', 'cases.json', 'cjs.json']);
  compare(fs.readFileSync(path.join(dir, 'cjs.json'), 'utf8'), 'CommonJS');
});

test('TypeScript: tsc --strict against the shipped types (nodenext ESM and CommonJS), then route', () => {
  assert.ok(fs.existsSync(TSC), `${TSC} is missing: npm ci (typescript is a devDependency)`);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022'], types: [], outDir: 'out' },
    files: ['typed.mts', 'typed.cts', 'node-shim.d.ts'],
  }));
  try {
    run(process.execPath, [TSC, '-p', 'tsconfig.json']);
  } catch (e) {
    assert.fail(`tsc: ${e.stdout}${e.stderr}`);
  }
  fs.copyFileSync(path.join(dir, 'runner.mjs'), path.join(dir, 'out', 'runner.mjs'));
  const printed = JSON.parse(run(process.execPath, ['out/typed.mjs', 'cases.json', 'typed.json']));
  assert.deepEqual(printed.hot, ['adyen_eu', 'stripe'].slice(0, printed.hot.length));
  assert.equal(printed.picked, 'adyen_eu');
  assert.deepEqual(printed.caught, ['invalid_value']);
  compare(fs.readFileSync(path.join(dir, 'typed.json'), 'utf8'), 'TypeScript');
  assert.deepEqual(JSON.parse(run(process.execPath, ['out/typed.cjs'])).processors, ['stripe']);
});

test('esbuild bundle of a TypeScript app in headless Chromium (wasm as a file asset), type-checked for bundlers', async () => {
  fs.writeFileSync(path.join(dir, 'tsconfig.web.json'), JSON.stringify({
    compilerOptions: { strict: true, module: 'esnext', moduleResolution: 'bundler', target: 'es2022', lib: ['es2022', 'dom'], types: [], noEmit: true },
    files: ['app.ts', 'wasm.d.ts'],
  }));
  try {
    run(process.execPath, [TSC, '-p', 'tsconfig.web.json']);
  } catch (e) {
    assert.fail(`tsc (bundler): ${e.stdout}${e.stderr}`);
  }
  const pub = path.join(dir, 'public');
  fs.mkdirSync(pub);
  run(ESBUILD, ['app.ts', '--bundle', '--format=esm', '--platform=browser', '--target=es2022', '--loader:.wasm=file',
    '--asset-names=[name]-[hash]', `--outdir=${pub}`, '--log-level=warning']);
  assert.ok(fs.readdirSync(pub).some((f) => /^switchyard_bg-.*\.wasm$/.test(f)), 'the wasm is an asset of the bundle');
  fs.writeFileSync(path.join(pub, 'index.html'), '<!doctype html><meta charset="utf-8"><title>bundle</title><script type="module" src="./app.js"></script>');
  await goldenInChromium(pub, 'esbuild bundle in Chromium');
});

/** Serves `pub` and runs the golden cases in the page there, in Chromium. */
async function goldenInChromium(pub, where) {
  fs.copyFileSync(path.join(dir, 'cases.json'), path.join(pub, 'cases.json'));
  const server = await serve(pub);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(server.url);
    await page.waitForSelector('body[data-engine]', { state: 'attached', timeout: 20000 });
    const json = await page.evaluate(() => window.runGolden());
    assert.deepEqual(problems, []);
    compare(json, where);
  } finally {
    await browser.close();
    await server.close();
  }
}

test('Vite production build of a plain app (await init(), no loader setup) in headless Chromium', async () => {
  // `vite build` finds the wasm through the glue's new URL(..., import.meta.url)
  // and emits it as an asset; the app names neither the wasm nor a loader.
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>vite</title><script type="module" src="./vite-main.js"></script>');
  const out = path.join(dir, 'vite-dist');
  try {
    run(process.execPath, [VITE, 'build', '--outDir', out, '--target', 'es2022', '--logLevel', 'warn', '--base', './'],
      { env: { ...process.env, NODE_ENV: 'production' } });
  } catch (e) {
    assert.fail(`vite build: ${e.stdout}${e.stderr}`);
  }
  const assets = fs.readdirSync(path.join(out, 'assets'));
  assert.ok(assets.some((f) => /^switchyard_bg-.*\.wasm$/.test(f)), `the wasm is an asset of the build: ${assets.join(', ')}`);
  await goldenInChromium(out, 'Vite build in Chromium');
});

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

test('examples/node-server: the handler routes, then calls POST /v1/payment_intents (a fake worker)', async () => {
  const ex = path.join(dir, 'node-server');
  fs.mkdirSync(ex);
  for (const f of ['handler.mjs', 'routing-rules.json']) fs.copyFileSync(path.join(ROOT, 'examples/node-server', f), path.join(ex, f));
  const { createPaymentHandler, Router } = await import(path.join(ex, 'handler.mjs'));
  const rules = JSON.parse(fs.readFileSync(path.join(ex, 'routing-rules.json'), 'utf8'));
  const router = new Router(rules);
  const calls = [];
  const fakeFetch = async (url, init) => {
    calls.push({ url: String(url), init, form: Object.fromEntries(new URLSearchParams(String(init.body))) });
    return new Response(JSON.stringify({ id: 'pi_1', object: 'payment_intent', status: 'succeeded' }), { status: 200 });
  };
  const http = await import('node:http');
  const server = http.createServer(createPaymentHandler({ router, switchyardUrl: 'http://switchyard.test', secretKey: 'sk_test_x', fetch: fakeFetch }));
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const pay = async (order) => {
    const res = await fetch(`http://127.0.0.1:${server.address().port}/pay`, { method: 'POST', body: JSON.stringify(order) });
    return { status: res.status, text: await res.text() };
  };
  const card = { number: '4242424242424242', exp_month: 12, exp_year: 2030, cvc: '123' };
  try {
    const eur = await pay({ order_id: 'o_1', amount: 2000, currency: 'eur', card });
    assert.equal(eur.status, 200, eur.text);
    assert.deepEqual(JSON.parse(eur.text), { status: 'succeeded', payment_intent: 'pi_1', expected_processor: 'adyen_eu' });
    assert.equal(calls.length, 1);
    assert.equal(calls[0].url, 'http://switchyard.test/v1/payment_intents');
    assert.equal(calls[0].init.headers.authorization, `Basic ${Buffer.from('sk_test_x:').toString('base64')}`);
    assert.equal(calls[0].init.headers['idempotency-key'], 'order_o_1');
    assert.deepEqual(calls[0].form, {
      amount: '2000', currency: 'eur', confirm: 'true', 'payment_method_data[type]': 'card',
      'payment_method_data[card][number]': card.number, 'payment_method_data[card][exp_month]': '12',
      'payment_method_data[card][exp_year]': '2030', 'payment_method_data[card][cvc]': '123',
      'metadata[order_id]': 'o_1', 'metadata[expected_processor]': 'adyen_eu',
    });
    const big = await pay({ order_id: 'o_2', amount: 60000, currency: 'usd', card });
    assert.equal(JSON.parse(big.text).expected_processor, 'checkout');
    assert.equal(calls.at(-1).form['metadata[expected_processor]'], 'checkout');
    // A rule's decline and a malformed payment never reach the worker.
    const blocked = await pay({ order_id: 'o_3', amount: 2000, currency: 'usd', card: { ...card, number: '4000000000000002' } });
    assert.equal(blocked.status, 402);
    assert.deepEqual(JSON.parse(blocked.text), { error: 'card blocked by merchant rule', code: 'do_not_honor' });
    const bad = await pay({ order_id: 'o_4', amount: 0, currency: 'usd', card: { ...card, number: '4242424242424241' } });
    assert.equal(bad.status, 400);
    const issues = JSON.parse(bad.text).issues.map((i) => `${i.code} at ${i.path}`).sort();
    assert.deepEqual(issues, ['invalid_card_number at /card/number', 'invalid_value at /amount']);
    assert.ok(!bad.text.includes('4242424242424241'), 'the error quotes no card number');
    assert.equal(calls.length, 2);
  } finally {
    await new Promise((ok) => server.close(ok));
    router.free();
  }
});

test('examples/checkout-browser: the page previews the processor for the typed BIN (import map, no build)', async () => {
  for (const f of ['index.html', 'checkout.js', 'routing-rules.json']) fs.copyFileSync(path.join(ROOT, 'examples/checkout-browser', f), path.join(dir, f));
  const server = await serve(dir);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${server.url}index.html`);
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 20000 });
    const shown = async (amount, currency, cardNumber) => {
      await page.fill('#amount', String(amount));
      await page.selectOption('#currency', currency);
      await page.fill('#card', cardNumber);
      const out = page.locator('#processor');
      return { action: await out.getAttribute('data-action'), processor: await out.getAttribute('data-processor'), text: await out.textContent() };
    };
    assert.deepEqual(await shown(2500, 'usd', '4242 42'), { action: 'route', processor: 'stripe', text: 'Processed by stripe' });
    assert.deepEqual(await shown(2500, 'usd', '5555 5555 44'), { action: 'route', processor: 'adyen_eu', text: 'Processed by adyen_eu (partner bank BINs to Adyen)' });
    assert.equal((await shown(2500, 'eur', '4242')).processor, 'adyen_eu');
    assert.equal((await shown(60000, 'usd', '4242 4242 4242 4242')).processor, 'checkout');
    assert.deepEqual(await shown(2500, 'usd', '4000 0000'), { action: 'decline', processor: '', text: 'This card cannot be used here.' });
    assert.equal((await shown(0, 'usd', '4242')).action, 'invalid');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
