// The image's HEALTHCHECK: asks /readyz on the admin port this container serves, wherever the
// environment put it (SLUICE_ADMIN_ADDR, or envoyproxy/ratelimit's PORT when started as
// /bin/ratelimit), else the default 9102. Exit 0 when ready, 1 otherwise.
const fromSluice = process.env.SLUICE_ADMIN_ADDR?.split(":").pop();
const port = fromSluice || process.env.PORT || "9102";
fetch(`http://127.0.0.1:${port}/readyz`).then(
  (reply) => process.exit(reply.ok ? 0 : 1),
  () => process.exit(1),
);
