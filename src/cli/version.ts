import packageJson from "../../package.json" with { type: "json" };

/** Sluice's version as people and metrics see it: package.json's, the one place it is set. */
export const VERSION: string = packageJson.version;
