/**
 * A watch of the pods of one namespace, as the benchmark sees them: when each pod first appears
 * and when it first reports Ready, on this process's clock (millisecond resolution, unlike the
 * pods' own timestamps).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent, request } from "undici";
import type { Cluster, Pod } from "../test/kubernetes/harness/index.ts";
import { isReady } from "../test/kubernetes/harness/index.ts";

export interface PodTimes {
  /** performance.now() when the watch first saw the pod. */
  readonly seen: number;
  /** performance.now() when the watch first saw it Ready. */
  ready?: number;
}

export interface PodWatch {
  readonly pods: ReadonlyMap<string, PodTimes>;
  /** Resolves once `count` pods have been seen Ready; rejects after `timeoutMs`. */
  allReady(count: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

interface WatchEvent {
  readonly type: string;
  readonly object: Pod;
}

/** Starts watching; resolves once the API server has answered, so no event is missed after it. */
export async function watchPods(cluster: Cluster, namespace: string, selector: string): Promise<PodWatch> {
  const { pki, server } = cluster.controlPlane;
  const [ca, cert, key] = await Promise.all(
    [pki.caCertPath, join(pki.dir, "admin.crt"), join(pki.dir, "admin.key")].map((path) => readFile(path)),
  );
  const dispatcher = new Agent({ connect: { ca, cert, key } });
  const query = `watch=1&timeoutSeconds=600&labelSelector=${encodeURIComponent(selector)}`;
  const response = await request(`${server}/api/v1/namespaces/${namespace}/pods?${query}`, {
    dispatcher,
    headers: { accept: "application/json" },
    bodyTimeout: 0,
  });
  if (response.statusCode !== 200) {
    const text = await response.body.text();
    await dispatcher.close();
    throw new Error(`watch of pods in ${namespace}: API server answered ${response.statusCode}: ${text}`);
  }
  const pods = new Map<string, PodTimes>();
  const waiters = new Set<() => void>();
  const record = (event: WatchEvent): void => {
    const name = event.object.metadata?.name;
    if (name === undefined || event.type === "DELETED") return;
    const now = performance.now();
    let times = pods.get(name);
    if (times === undefined) {
      times = { seen: now };
      pods.set(name, times);
    }
    if (times.ready === undefined && isReady(event.object)) {
      times.ready = now;
      for (const wake of waiters) wake();
    }
  };
  const reading = (async () => {
    let pending = "";
    for await (const chunk of response.body) {
      pending += (chunk as Buffer).toString("utf8");
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line !== "") record(JSON.parse(line) as WatchEvent);
        newline = pending.indexOf("\n");
      }
    }
  })().catch(() => undefined);
  const readyCount = (): number => [...pods.values()].filter((times) => times.ready !== undefined).length;
  return {
    pods,
    allReady(count, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${String(readyCount())} of ${String(count)} pods Ready after ${timeoutMs} ms`));
        }, timeoutMs);
        const check = (): void => {
          if (readyCount() < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      response.body.destroy();
      await reading;
      await dispatcher.destroy();
    },
  };
}
