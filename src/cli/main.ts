import { checkCommand } from "./check-command.ts";
import { EXPLAIN_HELP, explainCommand } from "./explain-command.ts";
import { serveCommand } from "./serve-command.ts";

const USAGE = `usage: sluice <command>
  serve --policy PATH [...]   serve envoy.service.ratelimit.v3 over gRPC (see sluice serve --help)
  check PATH [...]            validate policy files and print one summary line per domain
  explain --domain D DESC...  what a call would meet now, counting nothing (sluice explain --help)`;

/** Dispatches `sluice <command>`; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      if (rest.includes("--help")) {
        const { SERVE_USAGE } = await import("../settings/settings.ts");
        process.stdout.write(`${SERVE_USAGE}\n`);
        return 0;
      }
      return serveCommand(rest, process.env);
    case "check":
      return checkCommand(rest);
    case "explain":
      if (rest.includes("--help")) {
        process.stdout.write(`${EXPLAIN_HELP}\n`);
        return 0;
      }
      return explainCommand(rest);
    case "--help":
    case "help":
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(
        `${command === undefined ? "missing command" : `unknown command "${command}"`}\n${USAGE}\n`,
      );
      return 2;
  }
}
