// Assembles the npm package dist/switchyard/ from www/pkg (scripts/build-pkg.sh's
// wasm-bindgen --target web output): no second wasm-bindgen run, the same
// switchyard_bg.wasm. Run by scripts/build-package.sh; docs/js.md, "Package".
//
//   switchyard.js, snippets/, switchyard_bg.wasm, switchyard.d.ts
//                 the browser and bundler entry (www/pkg's files; `await init()`
//                 fetches new URL('./switchyard_bg.wasm', import.meta.url))
//   node.cjs      Node, CommonJS: the same module bundled by esbuild, which
//                 reads switchyard_bg.wasm with fs and calls initSync at load
//   node.mjs      Node, ES module: re-exports node.cjs (one wasm instance, one
//                 SwitchyardError class, whether imported or required)
//   node.d.ts, node.d.cts   their types: switchyard.d.ts with Node's init functions
//   package.json, README.md, LICENSE
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { build, transform } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG = path.join(ROOT, 'www/pkg');
const OUT = path.resolve(ROOT, process.argv[2] ?? 'dist/switchyard');
export const NAME = '@switchyard/routing';

const fail = (msg) => {
  console.error(`build-package: ${msg}`);
  process.exit(1);
};
for (const f of ['switchyard.js', 'switchyard_bg.wasm', 'switchyard.d.ts', 'snippets', 'route.js']) {
  if (!fs.existsSync(path.join(PKG, f))) fail(`www/pkg/${f} is missing: run bash scripts/build-pkg.sh`);
}

// The version: Cargo.toml's [workspace.package] version, as the engine's version() reports it.
const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
const version = /\[workspace\.package\][^[]*?\nversion\s*=\s*"([^"]+)"/.exec(cargo)?.[1];
if (!version) fail('no version in Cargo.toml [workspace.package]');
const license = /\[workspace\.package\][^[]*?\nlicense\s*=\s*"([^"]+)"/.exec(cargo)?.[1];
if (license !== 'Apache-2.0' || !fs.existsSync(path.join(ROOT, 'LICENSE'))) fail('LICENSE does not match Cargo.toml license');

fs.rmSync(OUT, { recursive: true, force: true });
fs.mkdirSync(OUT, { recursive: true });

// --- the web entry: www/pkg's files -------------------------------------------
// wasm-bindgen writes new URL('switchyard_bg.wasm', import.meta.url); bundlers
// (Vite, webpack) take it as an asset only when the path is relative ('./').
let web = fs.readFileSync(path.join(PKG, 'switchyard.js'), 'utf8');
const urlFrom = "new URL('switchyard_bg.wasm', import.meta.url)";
if (web.split(urlFrom).length !== 2) fail(`www/pkg/switchyard.js: expected one ${urlFrom}`);
web = web.replace(urlFrom, "new URL('./switchyard_bg.wasm', import.meta.url)");
fs.writeFileSync(path.join(OUT, 'switchyard.js'), web);
fs.copyFileSync(path.join(PKG, 'switchyard_bg.wasm'), path.join(OUT, 'switchyard_bg.wasm'));
fs.cpSync(path.join(PKG, 'snippets'), path.join(OUT, 'snippets'), { recursive: true });
// The route call without JSON (crates/preview/js/route.js), which
// switchyard.js installs on Router.
fs.copyFileSync(path.join(PKG, 'route.js'), path.join(OUT, 'route.js'));
// Router declares [Symbol.dispose](), which TypeScript knows from lib
// esnext.disposable only: declared here too, so that a project on an older
// lib (es2022) type-checks without skipLibCheck. It merges with the lib's.
const DISPOSE = [
  '/* Symbol.dispose (TypeScript lib esnext.disposable), for projects on an older lib. */',
  'declare global { interface SymbolConstructor { readonly dispose: unique symbol; } }',
  '',
].join('\n');
const dts = DISPOSE + fs.readFileSync(path.join(PKG, 'switchyard.d.ts'), 'utf8');
if (!dts.includes('[Symbol.dispose]')) fail('www/pkg/switchyard.d.ts: Router has no [Symbol.dispose] any more; drop DISPOSE');
fs.writeFileSync(path.join(OUT, 'switchyard.d.ts'), dts);

// --- Node: CommonJS, initialised at load ------------------------------------------
await build({
  stdin: {
    contents: [
      "import { readFileSync } from 'node:fs';",
      "import { initSync } from './switchyard.js';",
      "initSync({ module: readFileSync(new URL('./switchyard_bg.wasm', import.meta.url)) });",
      "export * from './switchyard.js';",
      "export { default } from './switchyard.js';",
    ].join('\n'),
    resolveDir: OUT,
    sourcefile: 'node-entry.mjs',
  },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: path.join(OUT, 'node.cjs'),
  banner: {
    js: [
      `// ${NAME} ${version} for Node (CommonJS): the engine is loaded from switchyard_bg.wasm`,
      '// beside this file when it is required. Built from switchyard.js by esbuild.',
      "const __switchyard_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
    ].join('\n'),
  },
  define: { 'import.meta.url': '__switchyard_import_meta_url' },
  logLevel: 'warning',
});

// --- Node: ES module, the same instance ---------------------------------------------
const names = Object.keys(await import(pathToFileURL(path.join(PKG, 'switchyard.js')).href))
  .filter((n) => n !== 'default')
  .sort();
for (const n of ['Router', 'SwitchyardError', 'fields', 'initSync', 'preview', 'validate', 'version']) {
  if (!names.includes(n)) fail(`www/pkg/switchyard.js does not export ${n}`);
}
fs.writeFileSync(
  path.join(OUT, 'node.mjs'),
  [
    `// ${NAME} ${version} for Node (ES module): the engine is loaded when this is imported.`,
    '// It re-exports node.cjs, so import and require share one engine and one SwitchyardError.',
    "import sy from './node.cjs';",
    `export const { ${names.join(', ')} } = sy;`,
    'export default sy.default;',
    '',
  ].join('\n'),
);

// Types for Node: switchyard.d.ts up to its init declarations (which name DOM
// types, and describe loading that Node's entries have already done), then
// Node's init functions.
const cut = dts.indexOf('export type InitInput');
if (cut < 0) fail('www/pkg/switchyard.d.ts: no InitInput declaration to cut at');
const nodeDts = `${dts.slice(0, cut).trimEnd()}

/**
 * In Node the engine is loaded when the package is imported or required
 * (switchyard_bg.wasm, read beside this file). \`init\` and \`initSync\` are
 * kept so that code shared with the browser entry runs unchanged: they do
 * nothing more, and \`init\` resolves at once.
 */
export default function init(module_or_path?: unknown): Promise<unknown>;
/** Does nothing in Node: the engine is loaded already (see \`init\`). */
export function initSync(module?: unknown): unknown;
`;
fs.writeFileSync(path.join(OUT, 'node.d.ts'), nodeDts);
fs.writeFileSync(path.join(OUT, 'node.d.cts'), nodeDts);

// --- the web entry's JavaScript, minified -----------------------------------------
// What a browser downloads, so it is what the size target counts (BENCHMARKS.md,
// "Package size"); node.cjs above was bundled from the readable files.
// www/pkg keeps them readable, and crates/preview/js has route.js's source.
const webJs = ['switchyard.js', 'route.js', ...fs.readdirSync(path.join(OUT, 'snippets'), { recursive: true })
  .filter((f) => f.endsWith('.js'))
  .map((f) => path.join('snippets', f))];
for (const f of webJs) {
  const file = path.join(OUT, f);
  const { code } = await transform(fs.readFileSync(file, 'utf8'), { minify: true, format: 'esm', legalComments: 'none', logLevel: 'warning' });
  fs.writeFileSync(file, `// ${NAME} ${version} (minified; readable source in the repository)\n${code}`);
}
const entry = Buffer.concat(['switchyard_bg.wasm', ...webJs].map((f) => fs.readFileSync(path.join(OUT, f))));
const entryGz = zlib.gzipSync(entry, { level: 9 }).length;

// --- package.json, README, LICENSE --------------------------------------------------
const web_ = { types: './switchyard.d.ts', default: './switchyard.js' };
const node = {
  import: { types: './node.d.ts', default: './node.mjs' },
  require: { types: './node.d.cts', default: './node.cjs' },
};
const pkg = {
  name: NAME,
  version,
  description: 'Switchyard payment routing in JavaScript: the engine the worker routes with, compiled to WebAssembly. Validate rule sets, preview and simulate routing, in browsers, Node and bundlers.',
  license,
  type: 'module',
  keywords: ['payments', 'routing', 'webassembly', 'wasm', 'checkout'],
  engines: { node: '>=20' },
  exports: {
    '.': { browser: web_, node, default: web_ },
    './web': web_,
    './node': node,
    './switchyard_bg.wasm': './switchyard_bg.wasm',
    './package.json': './package.json',
  },
  main: './node.cjs',
  module: './switchyard.js',
  types: './switchyard.d.ts',
  files: ['switchyard.js', 'switchyard.d.ts', 'switchyard_bg.wasm', 'snippets/', 'route.js', 'node.cjs', 'node.mjs', 'node.d.ts', 'node.d.cts', 'README.md', 'LICENSE'],
  sideEffects: ['./node.cjs', './node.mjs'],
};
fs.writeFileSync(path.join(OUT, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
fs.copyFileSync(path.join(ROOT, 'package/README.md'), path.join(OUT, 'README.md'));
fs.copyFileSync(path.join(ROOT, 'LICENSE'), path.join(OUT, 'LICENSE'));
console.log(`${path.relative(ROOT, OUT)}: ${NAME}@${version}; the browser entry (wasm and JS) ${entry.length} bytes, ${entryGz} gzipped`);
