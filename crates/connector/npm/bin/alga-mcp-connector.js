#!/usr/bin/env node
// The npm launcher of alga-mcp-connector: runs the prebuilt binary for this platform with the
// same arguments, stdin, stdout and stderr, and ends as it ends (its exit code, or the signal that
// stopped it). stdout is the MCP channel: nothing here ever writes to it. Plain Node, no
// dependencies. The package is made by `cargo xtask dist`.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const NATIVE = path.join(__dirname, '..', 'native');
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function fail(message) {
  process.stderr.write(`[alga-mcp-connector] ${message}\n`);
  process.exitCode = 1;
}

function main() {
  const platform = `${process.platform}-${process.arch}`;
  let available = [];
  try {
    available = fs.readdirSync(NATIVE).sort();
  } catch {
    // No native folder: no platform is available.
  }
  if (!available.includes(platform)) {
    fail(
      `this package has no prebuilt binary for ${platform} (it has: ${available.join(', ') || 'none'}). ` +
        'Build the connector from source instead: with Rust installed, run ' +
        '`cargo install --path crates/connector` in a clone of the Alga repository, and point your MCP ' +
        'client at the alga-mcp-connector it installs (in ~/.cargo/bin); see docs/connector.md there.',
    );
    return;
  }
  const binary = path.join(NATIVE, platform, process.platform === 'win32' ? 'alga-mcp-connector.exe' : 'alga-mcp-connector');
  const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' });
  const forward = (signal) => child.kill(signal);
  for (const signal of FORWARDED) process.on(signal, forward);
  child.on('error', (error) => fail(`cannot start ${binary}: ${error.message}`));
  child.on('exit', (code, signal) => {
    if (signal === null) {
      process.exit(code);
    }
    // End by the same signal; should it not end this process (one Node ignores), exit as a shell would.
    for (const name of FORWARDED) process.off(name, forward);
    process.exitCode = 128 + (os.constants.signals[signal] || 0);
    process.kill(process.pid, signal);
  });
}

main();
