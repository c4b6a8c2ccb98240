#!/usr/bin/env node
// Entry point for `npx sluice`. Node 24 runs the TypeScript sources directly (type stripping),
// so there is no build step between a checkout and a running service.
import { main } from "../src/cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
// Everything is closed by now; if a stray handle kept the loop alive, do not hang on exit.
setTimeout(() => process.exit(), 2_000).unref();
