// Usage: node tests/e2e/wasi-test-run.mjs <test.wasm> [test args...] (see src/hot_path.rs).
// Runs a Rust test binary built for wasm32-wasip1 in Node's V8 (WASI);
// imports other than WASI (wasm-bindgen's, unused by the test) are stubs.
import fs from 'node:fs';
import { WASI } from 'node:wasi';
const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: ['test', ...args], env: {}, preopens: {} });
const module = await WebAssembly.compile(fs.readFileSync(file));
const imports = wasi.getImportObject();
for (const imp of WebAssembly.Module.imports(module)) {
  if (imp.module === 'wasi_snapshot_preview1') continue;
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = () => { throw new Error(`stub import ${imp.module}.${imp.name}`); };
}
const instance = await WebAssembly.instantiate(module, imports);
process.exitCode = wasi.start(instance);
