import { lookup } from "node:dns/promises";
import { request } from "undici";
import { formatAddress, type AgentAddress } from "./address.ts";
import { agentStatusSchema } from "../agent-status/index.ts";
import type { AgentReport } from "./report.ts";

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
    const parsed = agentStatusSchema.safeParse(await response.body.json());
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
  const code = (error as { code?: unknown }).code;
  if (error.name === "TimeoutError" || code === "UND_ERR_HEADERS_TIMEOUT") return "no answer in time";
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "name does not resolve";
  return typeof code === "string" ? `${code}: ${error.message}` : error.message;
}
