#!/usr/bin/env node
// Entry point for `npx sluice`. Node 24 runs the TypeScript sources directly (type stripping),
// so there is no build step between a checkout and a running service.
//
// Plain JavaScript that any Node parses: started by an older Node (the machine's own, as with
// `node bin/sluice.js` or a globally linked `sluice`), it runs the same command on the project's
// Node 24, the `node` devDependency that `npm ci` installs, instead of failing on the first `.ts`
// import with ERR_UNKNOWN_FILE_EXTENSION.
import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const REQUIRED_MAJOR = 24;

if (Number(process.versions.node.split(".")[0]) >= REQUIRED_MAJOR) {
  const { main } = await import("../src/cli/main.ts");
  process.exitCode = await main(process.argv.slice(2));
  // Everything is closed by now; if a stray handle kept the loop alive, do not hang on exit.
  setTimeout(() => process.exit(), 2_000).unref();
} else {
  const node = projectNode();
  if (node === undefined) {
    process.stderr.write(
      `sluice needs Node.js ${REQUIRED_MAJOR} or later; ${process.execPath} is ${process.version}, and the project's own Node ${REQUIRED_MAJOR} (the "node" devDependency) is not installed.\n` +
        `Run 'npm ci' in ${dirname(dirname(realpathSync(process.argv[1] ?? ".")))}, then 'npx sluice ...', or start it with a Node ${REQUIRED_MAJOR} of your own.\n`,
    );
    process.exitCode = 1;
  } else {
    relaunch(node);
  }
}

/** The `node` package's binary, when it is installed and is not the Node already running. */
function projectNode() {
  try {
    const pkg = createRequire(import.meta.url).resolve("node/package.json");
    const binary = realpathSync(join(dirname(pkg), "bin", "node"));
    return binary === realpathSync(process.execPath) ? undefined : binary;
  } catch {
    return undefined;
  }
}

function relaunch(node) {
  const child = spawn(node, [...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" });
  // SIGTERM and SIGHUP are sent to this process's id (by kill, a supervisor, a reload script); the
  // child serves, so they are passed on. SIGINT from a terminal reaches the whole foreground process
  // group, the child included: passing it on too would deliver it twice, and serve's second SIGINT
  // would cut its graceful shutdown short. So this process only outlives it.
  for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  process.on("SIGINT", () => {});
  child.once("error", (error) => {
    process.stderr.write(`sluice: cannot start ${node}: ${error.message}\n`);
    process.exitCode = 1;
  });
  child.once("exit", (code, signal) => {
    process.exitCode = code ?? 1;
    // Died of a signal: die of the same one, so whoever waits on this process sees what happened.
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
  });
}
