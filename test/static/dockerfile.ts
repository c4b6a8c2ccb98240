/** One `FROM` stage of a Dockerfile, as far as the static tests need it. */
export interface DockerStage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly { readonly keyword: string; readonly args: string }[];
  /** The last CMD or ENTRYPOINT in exec (JSON array) form; shell form is left undefined. */
  readonly cmd: readonly string[] | undefined;
  readonly entrypoint: readonly string[] | undefined;
}

/**
 * Splits a Dockerfile into stages: comments dropped, `\` continuations joined. Enough for checking
 * our own file, not a general parser (no ARG substitution, no heredocs).
 */
export function parseDockerfile(text: string): DockerStage[] {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const stages: {
    from: string;
    name: string | undefined;
    instructions: { keyword: string; args: string }[];
  }[] = [];
  for (const line of lines) {
    const [, keyword = "", args = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === "FROM") {
      const [from = "", , name] = args.split(/\s+/);
      stages.push({ from, name, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args: args.replace(/\s+/g, " ") });
    }
  }
  return stages.map((stage) => ({
    ...stage,
    cmd: lastExecForm(stage.instructions, "CMD"),
    entrypoint: lastExecForm(stage.instructions, "ENTRYPOINT"),
  }));
}

function lastExecForm(
  instructions: readonly { keyword: string; args: string }[],
  keyword: string,
): string[] | undefined {
  const args = instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
  if (args === undefined || !args.startsWith("[")) return undefined;
  return JSON.parse(args) as string[];
}
