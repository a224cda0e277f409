#!/usr/bin/env node
// Runs the prebuilt pluggedin-mcp binary of this platform, installed by npm as one of this
// package's optional dependencies (@pluggedin/pluggedin-mcp-<platform>-<arch>): stdin,
// stdout and stderr are the binary's own, so MCP over stdio passes straight through; its
// exit status and signals are passed on.
"use strict";
const { spawn } = require("node:child_process");
const path = require("node:path");

const target = `${process.platform}-${process.arch}`;
const pkg = `@pluggedin/pluggedin-mcp-${target}`;
const exe = process.platform === "win32" ? "pluggedin-mcp.exe" : "pluggedin-mcp";

let binary;
try {
  binary = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "bin", exe);
} catch {
  process.stderr.write(
    `pluggedin-mcp: no prebuilt binary for ${target} (the package ${pkg} is not installed).\n` +
      "Builds exist for linux-x64, linux-arm64, darwin-x64, darwin-arm64 and win32-x64; elsewhere,\n" +
      "install from source: cargo install --locked --git https://github.com/VeriTeknik/pluggedin-mcp\n",
  );
  process.exit(1);
}

// Tells `pluggedin-mcp install` to write an npx entry: this binary's own path is inside
// npm's cache, which npm may clean.
const env = { ...process.env, PLUGGEDIN_MCP_NPM_PACKAGE: require("../package.json").name };
const child = spawn(binary, process.argv.slice(2), { stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (error) => {
  process.stderr.write(`pluggedin-mcp: cannot start ${binary}: ${error.message}\n`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
