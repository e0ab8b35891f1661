import { lookup } from "node:dns/promises";
import { request, type Dispatcher } from "undici";
import { agentStatusSchema } from "../agent-status/index.ts";
import { formatAddress, type AgentAddress } from "./address.ts";
import type { AgentReport } from "./report.ts";

/** A status is a few hundred bytes per entry: an answer this large is no agent's, or a broken one. */
const MAX_STATUS_BYTES = 32 * 1024 * 1024;

class TooLargeError extends Error {}

/** The body as JSON, read only up to `limit` bytes. */
async function readJson(body: Dispatcher.ResponseData["body"], limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new TooLargeError(`status larger than ${String(limit / 1024 / 1024)} MiB`);
    }
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

/**
 * Every A and AAAA record of a name: a headless Service answers with one per agent pod (with
 * `publishNotReadyAddresses`, including agents that are not ready yet). Asked again on every
 * poll, since pods come and go.
 */
export async function discoverAgents(service: AgentAddress): Promise<AgentAddress[]> {
  const records = await lookup(service.host, { all: true, order: "ipv4first" });
  const hosts = [...new Set(records.map((record) => record.address))];
  return hosts.map((host) => ({ host, port: service.port }));
}

/** Asks one agent for its status within `timeoutMs`; any failure becomes the report's error. */
export async function fetchAgentReport(address: AgentAddress, timeoutMs: number): Promise<AgentReport> {
  const agent = formatAddress(address);
  try {
    const response = await request(`http://${agent}/v1/status`, {
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return { agent, error: `HTTP ${String(response.statusCode)} from /v1/status` };
    }
    const parsed = agentStatusSchema.safeParse(await readJson(response.body, MAX_STATUS_BYTES));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        agent,
        error: `not a prepull agent status: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`.trim(),
      };
    }
    return { agent, status: parsed.data };
  } catch (error) {
    return { agent, error: describeFailure(error) };
  }
}

function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error instanceof TooLargeError) return error.message;
  if (error instanceof SyntaxError) return `not a prepull agent status: ${error.message}`;
  const code = (error as { code?: unknown }).code;
  if (error.name === "TimeoutError" || code === "UND_ERR_HEADERS_TIMEOUT") return "no answer in time";
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "name does not resolve";
  return typeof code === "string" ? `${code}: ${error.message}` : error.message;
}
