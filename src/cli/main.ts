import { CHECK_HELP, checkCommand } from "./check-command.ts";
import { EXPLAIN_HELP, explainCommand } from "./explain-command.ts";
import { serveCommand } from "./serve-command.ts";
import { serveHelp } from "./serve-help.ts";
import { VERSION } from "./version.ts";

const USAGE = `usage: sluice <command> [flags]
  serve --policy PATH [...]   serve envoy.service.ratelimit.v3 over gRPC (sluice serve --help for the flags)
  check PATH [...]            validate policy files and print one summary line per domain
  explain --domain D DESC...  what a call would meet now, counting nothing (sluice explain --help)
  --version                   print the version
Run it as 'npx sluice ...' in a checkout after 'npm ci' (docs/cli.md).`;

const HELP_FLAGS = new Set(["--help", "-h"]);

/** Dispatches `sluice <command>`; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  // --version and --help win wherever they appear, so `sluice serve --policy x --help` helps too.
  if (argv.includes("--version")) return print(`sluice ${VERSION}`);
  switch (command) {
    case "serve":
      return rest.some((a) => HELP_FLAGS.has(a)) ? print(serveHelp()) : serveCommand(rest, process.env);
    case "check":
      return rest.some((a) => HELP_FLAGS.has(a)) ? print(CHECK_HELP) : checkCommand(rest);
    case "explain":
      return rest.some((a) => HELP_FLAGS.has(a)) ? print(EXPLAIN_HELP) : explainCommand(rest);
    case "help":
    case "--help":
    case "-h":
      return print(USAGE);
    default:
      process.stderr.write(
        `sluice: ${command === undefined ? "missing command" : `unknown command "${command}"`}\nrun 'sluice --help' for the commands\n`,
      );
      return 2;
  }
}

function print(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}
