import { readFileSync } from "node:fs";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { ReflectionService } from "@grpc/reflection";

const DESCRIPTOR_SET = new URL("../../generated/descriptor-set.binpb", import.meta.url);

/**
 * Server reflection, so grpcurl works without the proto files.
 *
 * Every file, grpc/health/v1/health.proto included, is served from the FileDescriptorSet that
 * `buf build` wrote (see `npm run generate`) rather than from descriptors protobufjs reconstructs
 * with @grpc/proto-loader: those use relative type names, and write a map field's entry type as
 * `Statuses` rather than `StatusesEntry`, which Go clients such as grpcurl refuse ("is an invalid
 * map") for the whole file, so neither `describe` nor a call of any Health method works.
 */
export function createReflectionService(): ReflectionService {
  const sluice = { fileDescriptorProtos: splitDescriptorSet(readFileSync(DESCRIPTOR_SET)) };
  // @grpc/reflection only reads `fileDescriptorProtos` from each entry of a package definition.
  return new ReflectionService({ "sluice.descriptors": sluice } as unknown as ConstructorParameters<
    typeof ReflectionService
  >[0]);
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
