import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** Loopback addresses other than 127.0.0.1, so attackers and the prober are different clients. */
export function loopbackAddresses(count: number, first = 2): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.${String(first + i)}`);
}

export interface SlowClientReport {
  readonly opened: number;
  /** Connections the server closed, with how long each had been open. */
  readonly closedByServer: readonly number[];
  /** How long the connections still open at the end had been open. */
  readonly stillOpen: readonly number[];
}

/**
 * Slowloris: keeps `perAddress` connections open from each address, each sending one byte of a
 * request's headers every `byteEveryMs` and never finishing them; a connection the server closes
 * is opened again a second later. Runs for `durationMs`, then closes everything.
 */
export async function slowHeaderClients(options: {
  port: number;
  addresses: readonly string[];
  perAddress: number;
  byteEveryMs: number;
  durationMs: number;
}): Promise<SlowClientReport> {
  const header = Buffer.from("GET /healthz HTTP/1.1\r\nHost: agent\r\nX-Slow: " + "a".repeat(4096));
  const sockets = new Map<Socket, number>();
  const closedByServer: number[] = [];
  let opened = 0;
  let stopping = false;
  const open = (address: string): void => {
    if (stopping) return;
    opened += 1;
    const started = Date.now();
    let sent = 0;
    const socket = connect({ port: options.port, host: "127.0.0.1", localAddress: address });
    sockets.set(socket, started);
    const sendByte = (): void => {
      if (sent < header.length) socket.write(header.subarray(sent, ++sent));
    };
    socket.once("connect", sendByte);
    const timer = setInterval(sendByte, options.byteEveryMs);
    socket.on("error", () => undefined);
    // Reads (and drops) what the server says, so that its hanging up is seen when it happens.
    socket.resume();
    socket.on("close", () => {
      clearInterval(timer);
      sockets.delete(socket);
      if (stopping) return;
      closedByServer.push(Date.now() - started);
      setTimeout(() => {
        open(address);
      }, 1_000);
    });
  };
  for (const address of options.addresses) for (let i = 0; i < options.perAddress; i++) open(address);
  await sleep(options.durationMs);
  stopping = true;
  const now = Date.now();
  const stillOpen = [...sockets].map(([socket, started]) => {
    socket.destroy();
    return now - started;
  });
  return { opened, closedByServer, stillOpen };
}

export type ProbeResult = { readonly status: number } | { readonly error: string };

/** One kubelet-style HTTP probe: a new connection, no keep-alive, a deadline. */
export function probe(url: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, localAddress: "127.0.0.1", timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0 });
      });
    });
    req.on("timeout", () => {
      req.destroy(new Error(`no answer in ${String(timeoutMs)} ms`));
    });
    req.on("error", (error) => {
      resolve({ error: error.message });
    });
    req.end();
  });
}

/** Probes `url` every `everyMs` until `until` settles; the results, in order. */
export async function probeWhile(
  url: string,
  everyMs: number,
  until: Promise<unknown>,
): Promise<ProbeResult[]> {
  let settled = false;
  void until.finally(() => {
    settled = true;
  });
  const finished = (): boolean => settled;
  const results: Array<Promise<ProbeResult>> = [];
  while (!finished()) {
    // Generous: the machine running the tests may be busy; what matters is that it answers.
    results.push(probe(url, 10_000));
    await sleep(everyMs);
  }
  return Promise.all(results);
}

/**
 * Opens a connection, writes `count` pipelined requests for `path` in one go and reads no answer
 * for `settleMs`; then reads what the server sent until it hangs up (or `settleMs` passes again).
 */
export async function pipelineWithoutReading(
  port: number,
  path: string,
  count: number,
  settleMs: number,
): Promise<{ closedByServer: boolean; answers: number }> {
  const socket = connect({ port, host: "127.0.0.1", localAddress: "127.0.0.2" });
  socket.pause();
  socket.on("error", () => undefined);
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: agent\r\n\r\n`.repeat(count));
  await sleep(settleMs);
  let answers = 0;
  socket.on("data", (chunk: Buffer) => {
    answers += chunk.toString("latin1").split("HTTP/1.1 ").length - 1;
  });
  const closed = new Promise<boolean>((resolve) => {
    socket.once("close", () => {
      resolve(true);
    });
  });
  socket.resume();
  const closedByServer = await Promise.race([closed, sleep(settleMs, false)]);
  socket.destroy();
  return { closedByServer, answers };
}

/** Where a body that starts at `from` ends: chunked, or as long as `head` says; -1 when not all there. */
function bodyEnd(text: string, head: string, from: number): number {
  if (/\r\ntransfer-encoding: chunked\r\n/i.test(head)) {
    let at = from;
    for (;;) {
      const line = text.indexOf("\r\n", at);
      if (line < 0) return -1;
      const size = Number.parseInt(text.slice(at, line), 16);
      if (Number.isNaN(size)) return -1;
      at = line + 2 + size + 2;
      if (text.length < at) return -1;
      if (size === 0) return at;
    }
  }
  const length = /\r\ncontent-length: (\d+)\r\n/i.exec(head);
  if (length === null) return -1;
  const end = from + Number(length[1]);
  return text.length < end ? -1 : end;
}

/**
 * Splits what a server sent into whole HTTP/1.1 answers: a status line and headers, then the
 * whole body they announce. What follows the last whole answer is `trailing`.
 */
export function wholeAnswers(text: string): { statuses: number[]; trailing: string } {
  const statuses: number[] = [];
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf("\r\n\r\n");
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(rest);
    if (headEnd < 0 || status === null) break;
    const end = bodyEnd(rest, rest.slice(0, headEnd + 2), headEnd + 4);
    if (end < 0) break;
    statuses.push(Number(status[1]));
    rest = rest.slice(end);
  }
  return { statuses, trailing: rest };
}

/**
 * Writes `count` pipelined GETs of `path` on one connection in one go and reads everything the
 * server sends until it hangs up (or `timeoutMs` pass). With `afterEnd`, writes that too once the
 * server has ended its side, as a client that had more to send would.
 */
export async function pipelineAndRead(
  port: number,
  path: string,
  count: number,
  options: { afterEnd?: string; timeoutMs?: number } = {},
): Promise<{ statuses: number[]; trailing: string; endedByServer: boolean; error: string | undefined }> {
  const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  let text = "";
  let endedByServer = false;
  let error: string | undefined;
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  socket.on("error", (failure: NodeJS.ErrnoException) => (error = failure.code ?? failure.message));
  socket.once("end", () => {
    endedByServer = true;
    if (options.afterEnd !== undefined) socket.write(options.afterEnd);
    socket.end();
  });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: agent\r\n\r\n`.repeat(count));
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      resolve();
    }),
  );
  await Promise.race([closed, sleep(options.timeoutMs ?? 10_000)]);
  socket.destroy();
  return { ...wholeAnswers(text), endedByServer, error };
}
