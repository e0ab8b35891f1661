// The runtime alone: CRI PullImage for every reference, `concurrency` at a time, through grpc-js
// and proto-loader on the project's proto file and nothing of prepull's own code, so the pull
// rate it sees is containerd's.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO = fileURLToPath(new URL("../proto/cri.proto", import.meta.url));
const PULL_DEADLINE_MS = 120_000;

type Pull = (
  request: { image: { image: string } },
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null) => void,
) => void;

/**
 * Pulls every reference; resolves with each pull's completion time (epoch ms), in completion
 * order. `onDone` hears the count after each pull.
 */
export async function criPullLoop(
  socketPath: string,
  references: readonly string[],
  concurrency: number,
  onDone: (count: number) => void = () => undefined,
): Promise<number[]> {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, defaults: true });
  const v1 = (grpc.loadPackageDefinition(definition).runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const ImageService = v1.ImageService as grpc.ServiceClientConstructor;
  const client = new ImageService(`unix://${socketPath}`, grpc.credentials.createInsecure());
  const pull = (client as unknown as { PullImage: Pull }).PullImage.bind(client);
  const done: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < references.length) {
      const image = references[next] ?? "";
      next += 1;
      await new Promise<void>((resolve, reject) => {
        pull({ image: { image } }, { deadline: Date.now() + PULL_DEADLINE_MS }, (error) => {
          if (error) reject(new Error(`PullImage ${image}: ${error.message}`));
          else resolve();
        });
      });
      done.push(Date.now());
      onDone(done.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    client.close();
  }
  return done;
}
