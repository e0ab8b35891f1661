import * as grpc from "@grpc/grpc-js";
import { z } from "zod";
import { classifyRuntimeError, loadDescriptor, normalizeEndpoint, unaryCall } from "../cri/index.ts";
import type { CallOptions } from "../warm/index.ts";
import { ClassifiedError } from "../failure/index.ts";
import type { PinStore } from "../pins/index.ts";
import { DESCRIPTOR } from "./any.ts";
import type { ImageStore } from "../bundle/ports.ts";
import { importArchive } from "./transfer-import.ts";
import {
  CRI_NAMESPACE,
  UnsupportedApiError,
  type ContainerdApi,
  type ImageRecord,
  type ImageTarget,
} from "./types.ts";

export interface ContainerdClientOptions {
  readonly endpoint: string;
  readonly namespace?: string;
  /** Deadline for every call that names none. */
  readonly callTimeoutMs?: number;
}

const int64 = z.union([z.string(), z.number()]).transform(Number);
const wireImage = z.object({
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  target: z
    .object({
      media_type: z.string(),
      digest: z.string(),
      size: int64,
      annotations: z.record(z.string(), z.string()),
    })
    .nullable(),
});
const wireStatus = z.object({ ref: z.string(), offset: int64, total: int64 });
const schemas = {
  version: z.object({ version: z.string(), revision: z.string() }),
  image: z.object({ image: wireImage.nullable() }),
  images: z.object({ images: z.array(wireImage) }),
  info: z.object({ info: z.object({ size: int64 }).nullable() }),
  statuses: z.object({ statuses: z.array(wireStatus) }),
};

function wireTarget(target: ImageTarget): object {
  return {
    media_type: target.mediaType,
    digest: target.digest,
    size: target.size,
    annotations: target.annotations,
  };
}

function toRecord(wire: z.infer<typeof wireImage>): ImageRecord {
  const target = wire.target ?? { media_type: "", digest: "", size: 0, annotations: {} };
  return {
    name: wire.name,
    labels: wire.labels,
    target: {
      mediaType: target.media_type,
      digest: target.digest,
      size: target.size,
      annotations: target.annotations,
    },
  };
}

/** Create found a record of that name: it is updated instead. */
class RecordExistsError extends ClassifiedError {
  constructor(method: string, name: string | undefined) {
    super("runtime", `${method} ${name ?? ""}: already exists`);
  }
}

let cachedPackage: grpc.GrpcObject | undefined;

function service(path: string): grpc.ServiceClientConstructor {
  cachedPackage ??= loadDescriptor(DESCRIPTOR, String);
  let node: unknown = cachedPackage;
  for (const part of path.split(".")) node = (node as Record<string, unknown>)[part];
  return node as grpc.ServiceClientConstructor;
}

/**
 * A client for containerd's images, content and version services over grpc-js, in one
 * namespace (`k8s.io`, where CRI keeps images), with a deadline on every call and errors
 * classified as the CRI client classifies them.
 */
export function createContainerdClient(options: ContainerdClientOptions) {
  const endpoint = normalizeEndpoint(options.endpoint);
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  const namespace = options.namespace ?? CRI_NAMESPACE;
  const credentials = grpc.credentials.createInsecure();
  const channelOptions: grpc.ChannelOptions = {
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.enable_retries": 0,
  };
  const images = new (service("containerd.services.images.v1.Images"))(endpoint, credentials, channelOptions);
  const content = new (service("containerd.services.content.v1.Content"))(
    endpoint,
    credentials,
    channelOptions,
  );
  const version = new (service("containerd.services.version.v1.Version"))(
    endpoint,
    credentials,
    channelOptions,
  );
  const streaming = new (service("containerd.services.streaming.v1.Streaming"))(
    endpoint,
    credentials,
    channelOptions,
  );
  const transfer = new (service("containerd.services.transfer.v1.Transfer"))(
    endpoint,
    credentials,
    channelOptions,
  );
  const metadata = (): grpc.Metadata => {
    const value = new grpc.Metadata();
    value.set("containerd-namespace", namespace);
    return value;
  };
  const unsupported = (method: string): UnsupportedApiError =>
    new UnsupportedApiError(`${method}: the runtime at ${endpoint} does not serve containerd's API`);

  async function call<S extends z.ZodType>(
    client: grpc.Client,
    method: string,
    request: object,
    schema: S,
    callOptions: CallOptions & { subject?: string },
  ): Promise<z.infer<S>> {
    const { signal } = callOptions;
    const context = { method, endpoint, image: callOptions.subject };
    const deadline = new Date(Date.now() + (callOptions.timeoutMs ?? callTimeoutMs));
    const { error, response } = await unaryCall({
      client,
      method,
      request,
      metadata: metadata(),
      deadline,
      signal,
    });
    if (error !== null) {
      if (signal?.aborted) throw signal.reason as Error;
      if (error.code === grpc.status.UNIMPLEMENTED) throw unsupported(method);
      if (error.code === grpc.status.ALREADY_EXISTS) throw new RecordExistsError(method, context.image);
      throw classifyRuntimeError(error, context);
    }
    const parsed = schema.safeParse(response);
    if (parsed.success) return parsed.data;
    throw new ClassifiedError("runtime", `${method}: unexpected answer from containerd at ${endpoint}`);
  }

  const notFoundAs = async <T>(promise: Promise<T>, absent: T): Promise<T> => {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof ClassifiedError && error.kind === "not_found") return absent;
      throw error;
    }
  };

  return {
    endpoint,

    version: (callOptions = {}) => call(version, "Version", {}, schemas.version, callOptions),

    async getImage(name, callOptions = {}) {
      const request = call(images, "Get", { name }, schemas.image, { ...callOptions, subject: name });
      const answer = await notFoundAs(request, { image: null });
      return answer.image === null ? undefined : toRecord(answer.image);
    },

    async listImages(filters, callOptions = {}) {
      const answer = await call(images, "List", { filters }, schemas.images, callOptions);
      return answer.images.map(toRecord);
    },

    async updateImageLabels(record, labels, callOptions = {}) {
      const { name, target } = record;
      // containerd reads the target of every Update, even one that only changes labels: without
      // it containerd 2.1 dereferences nothing and crashes, so the record's own target is sent.
      const request = {
        image: {
          name,
          labels,
          target: wireTarget(target),
        },
        update_mask: { paths: Object.keys(labels).map((key) => `labels.${key}`) },
      };
      const answer = await call(images, "Update", request, schemas.image, { ...callOptions, subject: name });
      if (answer.image === null)
        throw new ClassifiedError("runtime", `Update ${name}: containerd returned no image`);
      return toRecord(answer.image);
    },

    async putImage(record, callOptions = {}) {
      // As CRI records a pull (createOrUpdateImageReference): create, or point the existing
      // record at the target and mark it CRI's, leaving its other labels (pins) alone.
      const image = { name: record.name, labels: record.labels, target: wireTarget(record.target) };
      const subject = { ...callOptions, subject: record.name };
      try {
        await call(images, "Create", { image }, schemas.image, subject);
      } catch (error) {
        if (!(error instanceof RecordExistsError)) throw error;
        const paths = ["target", ...Object.keys(record.labels).map((key) => `labels.${key}`)];
        await call(images, "Update", { image, update_mask: { paths } }, schemas.image, subject);
      }
    },

    async deleteImage(name, callOptions = {}) {
      const request = call(images, "Delete", { name, sync: false }, z.unknown(), {
        ...callOptions,
        subject: name,
      });
      await notFoundAs(request, undefined);
    },

    async importArchive(archive, importOptions) {
      const method = "Transfer";
      let error: grpc.ServiceError | null;
      try {
        error = await importArchive({ streaming, transfer, metadata }, archive, importOptions);
      } catch (thrown) {
        // The stream itself failed (containerd 1.6 has no streaming service), or the archive did.
        if ((thrown as Partial<grpc.ServiceError>).code === undefined) throw thrown;
        error = thrown as grpc.ServiceError;
      }
      if (error === null) return;
      if (importOptions.signal?.aborted) throw importOptions.signal.reason as Error;
      if (error.code === grpc.status.UNIMPLEMENTED) {
        throw new UnsupportedApiError(
          `the runtime at ${endpoint} has no transfer service to import with (containerd 1.7 or later has)`,
        );
      }
      throw classifyRuntimeError(error, { method, endpoint, image: importOptions.name });
    },

    async contentSize(digest, callOptions = {}) {
      const request = call(content, "Info", { digest }, schemas.info, { ...callOptions, subject: digest });
      const answer = await notFoundAs(request, { info: null });
      return answer.info?.size;
    },

    async listIngests(callOptions = {}) {
      const answer = await call(content, "ListStatuses", { filters: [] }, schemas.statuses, callOptions);
      return answer.statuses;
    },

    close() {
      for (const client of [images, content, version, streaming, transfer]) client.close();
    },
  } satisfies ContainerdApi & PinStore<ImageRecord> & ImageStore;
}
