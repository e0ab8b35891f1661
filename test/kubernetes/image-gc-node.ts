import { readFile, statfs } from "node:fs/promises";
import type { Cluster, Event, List } from "./harness/index.ts";

/** What the node's kubelet wrote, read back for a test's assertions. */
export interface KubeletLine {
  readonly at: Date;
  readonly text: string;
}

/** klog's header, `I1206 02:39:55.997419   30085 file.go:12] …`: local time without a year. */
const KLOG_HEADER = /^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})\s+\d+ \S+\] /;

export async function kubeletLines(cluster: Cluster, pattern: RegExp): Promise<KubeletLine[]> {
  const text = await readFile(cluster.node.kubelet.logFile, "utf8");
  const year = new Date().getFullYear();
  const lines: KubeletLine[] = [];
  for (const line of text.split("\n")) {
    const header = KLOG_HEADER.exec(line);
    if (header === null || !pattern.test(line)) continue;
    const [month, day, hours, minutes, seconds, micros] = header.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const at = new Date(year, month - 1, day, hours, minutes, seconds, Math.floor(micros / 1000));
    lines.push({ at, text: line.slice(header[0].length) });
  }
  return lines;
}

/** kubelet's removals (`freeImage`), keyed by image id, with when they happened. */
export async function removalsByKubelet(cluster: Cluster): Promise<Map<string, Date>> {
  const removed = new Map<string, Date>();
  for (const line of await kubeletLines(cluster, /"Removing image to free bytes"/)) {
    const id = /imageID="([^"]+)"/.exec(line.text)?.[1];
    if (id !== undefined && !removed.has(id)) removed.set(id, line.at);
  }
  return removed;
}

/** Image ids kubelet's GC left alone because CRI reported them pinned (logged at -v=5). */
export async function pinnedSkipsByKubelet(cluster: Cluster): Promise<Set<string>> {
  const lines = await kubeletLines(cluster, /"Image is pinned, skipping garbage collection"/);
  return new Set(lines.map((line) => /imageID="([^"]+)"/.exec(line.text)?.[1] ?? ""));
}

/** `kubelet_image_garbage_collected_total` by reason, read through the API server's node proxy. */
export async function imagesCollected(cluster: Cluster): Promise<{ age: number; space: number }> {
  const { stdout: metrics } = await cluster.kubectl([
    "get",
    "--raw",
    `/api/v1/nodes/${cluster.node.name}/proxy/metrics`,
  ]);
  const count = (reason: string): number =>
    Number(
      new RegExp(`^kubelet_image_garbage_collected_total\\{reason="${reason}"\\} (\\d+)`, "m").exec(
        metrics,
      )?.[1] ?? 0,
    );
  return { age: count("age"), space: count("space") };
}

/** The node's events (kubelet's image GC and eviction manager report there), as `Reason: message`. */
export async function nodeEvents(cluster: Cluster): Promise<string[]> {
  const selector = encodeURIComponent(`involvedObject.kind=Node,involvedObject.name=${cluster.node.name}`);
  const list = await cluster.api.get<List<Event>>(
    `/api/v1/namespaces/default/events?fieldSelector=${selector}`,
  );
  return list.items.map((event) => `${event.reason ?? "?"}: ${event.message ?? ""}`);
}

export interface FilesystemUsage {
  readonly sizeBytes: number;
  readonly usedBytes: number;
  /** Used share in percent, as kubelet computes it: 100 - available * 100 / capacity. */
  readonly usedPercent: number;
}

export async function filesystemUsage(dir: string): Promise<FilesystemUsage> {
  const stats = await statfs(dir);
  const sizeBytes = stats.blocks * stats.bsize;
  const availableBytes = stats.bavail * stats.bsize;
  return {
    sizeBytes,
    usedBytes: sizeBytes - stats.bfree * stats.bsize,
    usedPercent: 100 - Math.floor((availableBytes * 100) / sizeBytes),
  };
}

export const MiB = 1024 * 1024;

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
