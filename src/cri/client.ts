import * as grpc from "@grpc/grpc-js";
import { classifyRuntimeError } from "./errors.ts";
import { normalizeEndpoint } from "./endpoint.ts";
import { loadDescriptor, unaryCall } from "./grpc.ts";
import type {
  CallOptions,
  ImageFilesystemUsage,
  ImageRuntime,
  PullAuth,
  PullOptions,
  RuntimeImage,
  RuntimeVersion,
} from "../warm/index.ts";
import type { CallObserver } from "./observer.ts";

/** proto/cri.proto as a descriptor, built by scripts/proto-json.ts: no protobuf text to parse. */
const DESCRIPTOR = new URL("../../proto/cri.json", import.meta.url);

export interface CriClientOptions {
  readonly endpoint: string;
  /** Deadline for every call but PullImage. */
  readonly callTimeoutMs?: number;
  /** Deadline for PullImage when the call names none. */
  readonly pullTimeoutMs?: number;
  readonly observer?: CallObserver;
}

interface WireImage {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: number;
  pinned: boolean;
}

interface WireFilesystemUsage {
  fs_id?: { mountpoint: string } | null;
  used_bytes?: { value: number } | null;
}

let cachedPackage: grpc.GrpcObject | undefined;

function criPackage(): grpc.GrpcObject {
  // Sizes and byte counts stay far below 2^53; a string per image would cost a conversion each.
  cachedPackage ??= loadDescriptor(DESCRIPTOR, Number);
  return cachedPackage;
}

function serviceConstructor(name: "RuntimeService" | "ImageService"): grpc.ServiceClientConstructor {
  const runtime = criPackage().runtime as grpc.GrpcObject;
  const v1 = runtime.v1 as grpc.GrpcObject;
  return v1[name] as grpc.ServiceClientConstructor;
}

function toImage(wire: WireImage): RuntimeImage {
  return {
    id: wire.id,
    repoTags: wire.repo_tags,
    repoDigests: wire.repo_digests,
    size: wire.size,
    pinned: wire.pinned,
  };
}

function toWireAuth(auth: PullAuth | undefined): object | undefined {
  if (auth === undefined) return undefined;
  // server_address stays empty: containerd drops credentials whose address differs from the
  // host it actually contacts (for example a mirror).
  return {
    username: auth.username ?? "",
    password: auth.password ?? "",
    identity_token: auth.identityToken ?? "",
    registry_token: auth.registryToken ?? "",
  };
}

function secretsOf(auth: PullAuth | undefined): string[] {
  if (auth === undefined) return [];
  return [auth.password, auth.identityToken, auth.registryToken].filter(
    (value): value is string => value !== undefined && value !== "",
  );
}

/**
 * A CRI v1 client over grpc-js, with a deadline on every call and classified errors. It is the
 * warm core's `ImageRuntime` port; `satisfies` below proves it.
 */
export function createCriClient(options: CriClientOptions) {
  const endpoint = normalizeEndpoint(options.endpoint);
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  const pullTimeoutMs = options.pullTimeoutMs ?? 10 * 60_000;
  const channelOptions: grpc.ChannelOptions = {
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.enable_retries": 0,
  };
  const credentials = grpc.credentials.createInsecure();
  const runtimeService = new (serviceConstructor("RuntimeService"))(endpoint, credentials, channelOptions);
  const imageService = new (serviceConstructor("ImageService"))(endpoint, credentials, channelOptions);

  async function call<T>(
    service: grpc.Client,
    method: string,
    request: object,
    callOptions: CallOptions & { image?: string; secrets?: readonly string[] },
    defaultTimeoutMs: number,
  ): Promise<T> {
    const started = performance.now();
    const { signal } = callOptions;
    const context = { method, endpoint, image: callOptions.image, secrets: callOptions.secrets ?? [] };
    const deadline = new Date(Date.now() + (callOptions.timeoutMs ?? defaultTimeoutMs));
    const metadata = new grpc.Metadata();
    const { error, response } = await unaryCall({
      client: service,
      method,
      request,
      metadata,
      deadline,
      signal,
    });
    options.observer?.({ method, durationMs: performance.now() - started, ok: error === null });
    if (error === null) return response as T;
    if (signal?.aborted) throw signal.reason as Error;
    throw classifyRuntimeError(error, { ...context, pastDeadline: Date.now() >= deadline.getTime() });
  }

  return {
    endpoint,

    async version(callOptions = {}): Promise<RuntimeVersion> {
      const response = await call<{
        runtime_name: string;
        runtime_version: string;
        runtime_api_version: string;
      }>(runtimeService, "Version", { version: "v1" }, callOptions, callTimeoutMs);
      return {
        runtimeName: response.runtime_name,
        runtimeVersion: response.runtime_version,
        runtimeApiVersion: response.runtime_api_version,
      };
    },

    async listImages(callOptions = {}): Promise<RuntimeImage[]> {
      const response = await call<{ images: WireImage[] }>(
        imageService,
        "ListImages",
        {},
        callOptions,
        callTimeoutMs,
      );
      return response.images.map(toImage);
    },

    async imageStatus(image, callOptions = {}): Promise<RuntimeImage | undefined> {
      const response = await call<{ image: WireImage | null }>(
        imageService,
        "ImageStatus",
        { image: { image } },
        { ...callOptions, image },
        callTimeoutMs,
      );
      return response.image ? toImage(response.image) : undefined;
    },

    async pullImage(image, pullOptions: PullOptions = {}): Promise<string> {
      const response = await call<{ image_ref: string }>(
        imageService,
        "PullImage",
        { image: { image }, auth: toWireAuth(pullOptions.auth) },
        { ...pullOptions, image, secrets: secretsOf(pullOptions.auth) },
        pullTimeoutMs,
      );
      return response.image_ref;
    },

    async removeImage(image, callOptions = {}): Promise<void> {
      await call(imageService, "RemoveImage", { image: { image } }, { ...callOptions, image }, callTimeoutMs);
    },

    async imageFsInfo(callOptions = {}): Promise<ImageFilesystemUsage[]> {
      const response = await call<{ image_filesystems: WireFilesystemUsage[] }>(
        imageService,
        "ImageFsInfo",
        {},
        callOptions,
        callTimeoutMs,
      );
      return response.image_filesystems.map((fs) => ({
        mountpoint: fs.fs_id?.mountpoint ?? "",
        usedBytes: fs.used_bytes ? fs.used_bytes.value : undefined,
      }));
    },

    close(): void {
      runtimeService.close();
      imageService.close();
    },
  } satisfies ImageRuntime;
}
