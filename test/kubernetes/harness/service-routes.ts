import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** One Service port, and the host address behind it. */
export interface ServiceRoute {
  readonly serviceIp: string;
  readonly servicePort: number;
  readonly protocol: "tcp" | "udp";
  readonly target: { readonly host: string; readonly port: number };
}

const COMMENT = "prepull-cluster-tests";

function ruleOf(podSubnet: string, route: ServiceRoute): string[] {
  return [
    "PREROUTING",
    ...["-s", podSubnet, "-d", route.serviceIp, "-p", route.protocol, "--dport", String(route.servicePort)],
    ...["-m", "comment", "--comment", COMMENT],
    ...["-j", "DNAT", "--to-destination", `${route.target.host}:${String(route.target.port)}`],
  ];
}

/**
 * What kube-proxy does for a Service, for the few the tests' pods use: traffic from one node's
 * pod network to a ClusterIP and port goes to the host address that serves it. Scoped by the
 * pod network's source addresses, so clusters of parallel runs never share a rule. Returns what
 * removes them.
 */
export async function routeServices(
  podSubnet: string,
  routes: readonly ServiceRoute[],
): Promise<() => Promise<void>> {
  const added: string[][] = [];
  const remove = async (): Promise<void> => {
    for (const rule of added.splice(0)) {
      await run("iptables", ["-w", "-t", "nat", "-D", ...rule]).catch(() => undefined);
    }
  };
  try {
    for (const route of routes) {
      const rule = ruleOf(podSubnet, route);
      await run("iptables", ["-w", "-t", "nat", "-A", ...rule]);
      added.push(rule);
    }
  } catch (error) {
    await remove();
    throw new Error(`iptables could not route the Services to the pod network: ${String(error)}`, {
      cause: error,
    });
  }
  return remove;
}
