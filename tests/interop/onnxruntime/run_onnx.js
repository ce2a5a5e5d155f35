#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (onnxruntime-node, CPU) on one float32 input read from a raw little-endian
// file, writes the first output the same way and prints a JSON line: its name and dims and, with --repeat, the
// inference times. Used by tests/interop/onnx_runtime_test.cpp and bench/onnxruntime_vs_tapegrad.sh.
//
//   node run_onnx.js --ort-dir BUILD/onnxruntime --model m.onnx --input x.f32 --shape 2,64,64,1 [--output y.f32]
//                    [--threads N] [--repeat R]
//
// --input random feeds U[0, 1) values instead of a file. --ort-dir is the folder `make test` installs onnxruntime-node into (npm ci --prefix, tests/interop/onnxruntime/
// package-lock.json). --threads sets intraOpNumThreads (default: ONNX Runtime's choice); --repeat R times R runs
// after one warm-up run.
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const args = {threads: 0, repeat: 0};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
    args[key] = argv[i + 1];
  }
  for (const required of ['ortDir', 'model', 'input', 'shape'])
    if (!args[required]) throw new Error(`--${required.replace(/[A-Z]/g, c => '-' + c.toLowerCase())} is required`);
  args.shape = args.shape.split(',').map(Number);
  args.threads = Number(args.threads);
  args.repeat = Number(args.repeat);
  return args;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ort = require(path.resolve(args.ortDir, 'node_modules', 'onnxruntime-node'));
  const options = {executionProviders: ['cpu'], graphOptimizationLevel: 'all'};
  if (args.threads > 0) Object.assign(options, {intraOpNumThreads: args.threads, interOpNumThreads: 1});
  const session = await ort.InferenceSession.create(args.model, options);

  const count = args.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  if (args.input === 'random') {
    for (let i = 0; i < count; ++i) data[i] = Math.random();
  } else {
    const bytes = fs.readFileSync(args.input);
    if (bytes.length !== count * 4)
      throw new Error(`${args.input}: ${bytes.length} bytes, but shape ${args.shape} needs ${count * 4}`);
    for (let i = 0; i < count; ++i) data[i] = bytes.readFloatLE(i * 4);
  }
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, args.shape)};

  let results = await session.run(feeds);
  const times = [];
  for (let r = 0; r < args.repeat; ++r) {
    const start = process.hrtime.bigint();
    results = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const name = session.outputNames[0];
  const output = results[name];
  if (args.output) {
    const out = Buffer.alloc(output.data.length * 4);
    output.data.forEach((v, i) => out.writeFloatLE(v, i * 4));
    fs.writeFileSync(args.output, out);
  }
  const report = {output: name, dims: output.dims, ort_version: ort.env.versions.node};
  if (times.length) Object.assign(report, {times_ms: times, median_ms: median(times)});
  console.log(JSON.stringify(report));
}

main().catch(error => {
  console.error(`run_onnx.js: ${error.message}`);
  process.exit(1);
});
