// `npm run stack`: the demo stack on this machine, without Docker. Starts redis-server, Sluice (sample
// policy, counting in that Redis), the sample upstream and the real Envoy on envoy/envoy.yaml, each on
// a free loopback port; prints curl commands with the demo API keys; stops everything by PID on
// Ctrl-C or SIGTERM.
//
//   npm run stack [-- --port 10000] [-- --failure-mode-deny]
import { parseArgs } from "node:util";
import { startEnvoyStack } from "../test/e2e/envoy-stack.ts";
import { demoCallers } from "../test/support/envoy.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "failure-mode-deny": { type: "boolean", default: false },
  },
});

const stack = await startEnvoyStack({
  listenerPort: Number(values.port),
  failureModeDeny: values["failure-mode-deny"],
  echo: true,
});

const url = stack.envoy.url;
const keys = demoCallers()
  .map((caller) => `  ${caller.apiKey.padEnd(16)} tenant ${caller.tenant.padEnd(9)} plan ${caller.plan}`)
  .join("\n");
process.stdout.write(`
Sluice stack is up.
  Envoy        ${url}        (admin ${stack.envoy.adminUrl}, rate-limit stats: ${stack.envoy.adminUrl}/stats?filter=ratelimit)
  Sluice       gRPC ${stack.sluice.host}:${stack.sluice.port}, admin ${stack.sluiceAdminUrl}/metrics
  upstream     ${stack.upstreamUrl}   redis ${stack.redis.url}

Demo API keys (mapped to tenant and plan inside Envoy):
${keys}

Try:
  curl -i -H 'x-api-key: demo-acme-1' ${url}/v1/leads
  curl -i -H 'x-api-key: demo-acme-2' -H 'x-sluice-plan: enterprise' ${url}/v1/contacts
  curl -i -X POST -H 'x-api-key: demo-initech' --data '[{"name":"Ada"}]' ${url}/v1/leads/bulk
  curl -i ${url}/api/health
  for i in $(seq 21); do curl -s -o /dev/null -w '%{http_code} ' -H 'x-api-key: demo-acme-1' ${url}/v1/leads; done; echo

Ctrl-C stops everything.
`);

const signal = await new Promise<string>((resolve) => {
  process.once("SIGINT", () => resolve("SIGINT"));
  process.once("SIGTERM", () => resolve("SIGTERM"));
});
process.stderr.write(`stack: ${signal}, stopping Envoy, Sluice, upstream and redis-server\n`);
await stack.stop();
