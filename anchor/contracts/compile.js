// Compiles the anchor contract with solc-js (the npm `solc` package) and
// writes its ABI and creation bytecode:
//
//   node anchor/contracts/compile.js --solc <solc package folder> --out <folder>
//
// The compiler version must be the one the contract's pragma pins. The
// committed artifacts in anchor/contracts/build/ are checked against a fresh
// compile by `cargo test -p proofmark-anchor --test contract_artifacts`.
"use strict";

const fs = require("fs");
const path = require("path");

const CONTRACT = "ProofmarkAnchor";
// Paris: no PUSH0, so the bytecode also runs on consortium chains (Besu,
// Quorum) that have not adopted Shanghai.
const EVM_VERSION = "paris";

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    console.error(`usage: node compile.js --solc <solc package folder> --out <folder>`);
    process.exit(2);
  }
  return process.argv[i + 1];
}

const solc = require(path.resolve(arg("--solc")));
const out = path.resolve(arg("--out"));
const file = `${CONTRACT}.sol`;
const source = fs.readFileSync(path.join(__dirname, file), "utf8");

const pinned = /pragma solidity (\d+\.\d+\.\d+);/.exec(source);
const version = solc.version();
if (!pinned || !version.startsWith(pinned[1] + "+")) {
  console.error(`solc ${version} does not match the pragma ${pinned ? pinned[1] : "(none)"}`);
  process.exit(1);
}

const input = {
  language: "Solidity",
  sources: { [file]: { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: EVM_VERSION,
    metadata: { bytecodeHash: "none" },
    outputSelection: { [file]: { [CONTRACT]: ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

const compiled = output.contracts[file][CONTRACT];
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, `${CONTRACT}.abi.json`), JSON.stringify(compiled.abi, null, 2) + "\n");
fs.writeFileSync(path.join(out, `${CONTRACT}.bin`), compiled.evm.bytecode.object + "\n");
fs.writeFileSync(
  path.join(out, `${CONTRACT}.compiler.txt`),
  `solc ${version}\nevmVersion ${EVM_VERSION}\noptimizer runs 200\n`
);
