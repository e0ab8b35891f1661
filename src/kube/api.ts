import { readFile } from "node:fs/promises";
import { Agent, request } from "undici";
import { z } from "zod";
import type { InClusterConfig } from "./in-cluster.ts";

/** What prepull reads is one small object: a larger answer is not the one asked for. */
const MAX_BODY_BYTES = 1024 * 1024;

/** The API server's refusal (`kind: Status`), whose message names the missing permission. */
const statusSchema = z.object({ message: z.string().optional(), reason: z.string().optional() });

class KubeApiError extends Error {
  /** The HTTP status the API server answered with; undefined when it did not answer. */
  readonly status: number | undefined;

  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

/** How a PATCH body is read (the API server's three patch types). */
export type PatchType = "strategic" | "merge" | "json";

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  strategic: "application/strategic-merge-patch+json",
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
};

export interface KubeApi {
  get<T>(path: string, schema: z.ZodType<T>): Promise<T>;
  patch<T>(path: string, type: PatchType, body: unknown, schema: z.ZodType<T>): Promise<T>;
  create<T>(path: string, body: unknown, schema: z.ZodType<T>): Promise<T>;
  close(): Promise<void>;
}

async function readBody(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      throw new KubeApiError(`answer larger than ${String(MAX_BODY_BYTES / 1024)} KiB`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A client of the API server as the pod's service account, each request within `timeoutMs`. */
export function connectKubeApi(config: InClusterConfig, timeoutMs: number): KubeApi {
  const dispatcher = new Agent({ connect: { ca: config.caPem }, connections: 2 });
  const send = async <T>(
    method: "GET" | "PATCH" | "POST",
    path: string,
    schema: z.ZodType<T>,
    body?: { contentType: string; value: unknown },
  ): Promise<T> => {
    const token = (await readFile(config.tokenFile, "utf8")).trim();
    const response = await request(`${config.server}${path}`, {
      method,
      dispatcher,
      headers: {
        authorization: `Bearer ${token}`,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": body.contentType }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body.value) }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    }).catch((error: unknown) => {
      const code = (error as { code?: unknown }).code;
      const why = (error as Error).name === "TimeoutError" ? "no answer in time" : String(code ?? error);
      throw new KubeApiError(`${config.server}: ${why}`);
    });
    const json = parseJson(await readBody(response.body as never));
    if (response.statusCode < 200 || response.statusCode > 299) {
      const status = statusSchema.safeParse(json);
      const message = status.success ? (status.data.message ?? status.data.reason) : undefined;
      throw new KubeApiError(
        `HTTP ${String(response.statusCode)} for ${method} ${path}${message ? `: ${message}` : ""}`,
        response.statusCode,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new KubeApiError(
        `unexpected answer for ${path}: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`,
      );
    }
    return parsed.data;
  };
  return {
    get: (path, schema) => send("GET", path, schema),
    patch: (path, type, body, schema) =>
      send("PATCH", path, schema, { contentType: PATCH_CONTENT_TYPES[type], value: body }),
    create: (path, body, schema) =>
      send("POST", path, schema, { contentType: "application/json", value: body }),
    close: () => dispatcher.close(),
  };
}
