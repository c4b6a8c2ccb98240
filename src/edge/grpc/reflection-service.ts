import { readFileSync } from "node:fs";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";

const DESCRIPTOR_SET = new URL("../../generated/descriptor-set.binpb", import.meta.url);

/**
 * Server reflection, so grpcurl works without the proto files.
 *
 * Sluice's own files are served from the FileDescriptorSet that `buf build` wrote (see `npm run
 * generate`) rather than from descriptors protobufjs reconstructs: those use relative type names and
 * map entries that Go clients such as grpcurl refuse to resolve.
 */
export function createReflectionService(): ReflectionService {
  const health = loadSync(healthProtoPath, { keepCase: true });
  const sluice = { fileDescriptorProtos: splitDescriptorSet(readFileSync(DESCRIPTOR_SET)) };
  // @grpc/reflection only reads `fileDescriptorProtos` from each entry of a package definition.
  return new ReflectionService({ ...health, "sluice.descriptors": sluice } as unknown as typeof health);
}

/** FileDescriptorSet is `repeated FileDescriptorProto file = 1`: returns each file's encoded bytes. */
export function splitDescriptorSet(bytes: Uint8Array): Buffer[] {
  const reader = new BinaryReader(bytes);
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(Buffer.from(reader.bytes()));
    else reader.skip(wireType);
  }
  return files;
}
