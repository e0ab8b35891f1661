import { readFile } from "node:fs/promises";
import { Agent, request } from "undici";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { INode } from "kubernetes-models/v1/Node";
import type { IEvent } from "kubernetes-models/v1/Event";

/** A client of the API server as the cluster's admin: what the tests need of it, over REST. */
export interface KubeApi {
  get<T>(path: string): Promise<T>;
  /** undefined when the object does not exist. */
  find<T>(path: string): Promise<T | undefined>;
  create<T>(path: string, body: unknown): Promise<T>;
  patch<T>(path: string, body: unknown, type?: "strategic" | "merge" | "json"): Promise<T>;
  delete(path: string, options?: { gracePeriodSeconds?: number }): Promise<void>;
  close(): Promise<void>;
}

export type Pod = IPod;
export type Node = INode;
export type Event = IEvent;
export interface List<T> {
  readonly items: T[];
}

const PATCH_TYPES = {
  strategic: "application/strategic-merge-patch+json",
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
} as const;

export class ApiError extends Error {
  readonly status: number;
  constructor(method: string, path: string, status: number, body: string) {
    super(`${method} ${path}: API server answered ${String(status)}: ${body.slice(0, 500)}`);
    this.status = status;
  }
}

export async function connectApi(
  server: string,
  credentials: { caCertPath: string; certPath: string; keyPath: string },
): Promise<KubeApi> {
  const [ca, cert, key] = await Promise.all(
    [credentials.caCertPath, credentials.certPath, credentials.keyPath].map((path) => readFile(path)),
  );
  const dispatcher = new Agent({ connect: { ca, cert, key } });
  const call = async (
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<{ status: number; text: string }> => {
    const response = await request(`${server}${path}`, {
      method,
      dispatcher,
      headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": contentType }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    return { status: response.statusCode, text: await response.body.text() };
  };
  const expectOk = async <T>(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<T> => {
    const { status, text } = await call(method, path, body, contentType);
    if (status < 200 || status >= 300) throw new ApiError(method, path, status, text);
    return JSON.parse(text) as T;
  };
  return {
    get: (path) => expectOk("GET", path),
    async find<T>(path: string) {
      const { status, text } = await call("GET", path);
      if (status === 404) return undefined;
      if (status !== 200) throw new ApiError("GET", path, status, text);
      return JSON.parse(text) as T;
    },
    create: (path, body) => expectOk("POST", path, body),
    patch: (path, body, type = "strategic") => expectOk("PATCH", path, body, PATCH_TYPES[type]),
    async delete(path, options = {}) {
      const { status, text } = await call("DELETE", path, {
        kind: "DeleteOptions",
        apiVersion: "v1",
        ...options,
      });
      if (status !== 200 && status !== 202 && status !== 404)
        throw new ApiError("DELETE", path, status, text);
    },
    close: () => dispatcher.close(),
  };
}
