import { type ChannelCredentials, credentials, loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

/** One grpc.health.v1 Check: the serving status of `service` ("" for the whole server). */
export function checkHealth(
  address: string,
  service: string,
  channelCredentials: ChannelCredentials = credentials.createInsecure(),
): Promise<string> {
  const pkg = loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as any;
  const client = new pkg.grpc.health.v1.Health(address, channelCredentials);
  return new Promise((resolve, reject) => {
    client.Check(
      { service },
      { deadline: Date.now() + 5_000 },
      (error: Error | null, reply: { status: string }) => {
        client.close();
        return error ? reject(error) : resolve(reply.status);
      },
    );
  });
}
