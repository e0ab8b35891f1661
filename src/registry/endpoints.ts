import { isLoopbackRegistry, registryApiHost, type ImageReference } from "../reference/index.ts";
import { endpointLocation, type RegistryEndpoint, type RegistryHosts } from "./hosts.ts";
import type { TlsProfile } from "./transport.ts";

export interface EndpointConfig {
  readonly hosts?: RegistryHosts | undefined;
  /** Registry domain → mirror URLs tried before it. */
  readonly mirrors?: Readonly<Record<string, readonly string[]>> | undefined;
  /** Registry hosts that may be reached over plain HTTP or without TLS verification. */
  readonly insecure?: readonly string[] | undefined;
}

/** Where to ask about images of one registry domain, in order: flags' mirrors, hosts.toml, upstream. */
export type EndpointPlanner = (domain: string) => RegistryEndpoint[];

export function planEndpoints(config: EndpointConfig): EndpointPlanner {
  const insecure = new Set(config.insecure ?? []);
  // Parsed once, so a malformed --mirror URL fails when the client is made, not per image.
  const explicit = new Map(
    Object.entries(config.mirrors ?? {}).map(([domain, urls]) => [
      domain,
      urls.map((url): RegistryEndpoint => ({
        ...endpointLocation(url, false),
        capabilities: ["pull", "resolve"],
        caFiles: [],
        skipVerify: false,
        mirror: true,
      })),
    ]),
  );
  return (domain) => {
    const configured = config.hosts?.forHost(domain)?.endpoints ?? [];
    const apiHost = registryApiHost({ domain, path: "", tag: undefined, digest: undefined });
    const plain = isLoopbackRegistry(domain) || insecure.has(domain);
    const fallback: RegistryEndpoint[] = configured.some((endpoint) => !endpoint.mirror)
      ? []
      : [
          {
            ...endpointLocation(`${plain ? "http" : "https"}://${apiHost}`, false),
            capabilities: ["pull", "resolve"],
            caFiles: [],
            skipVerify: false,
            mirror: false,
          },
        ];
    return [...(explicit.get(domain) ?? []), ...configured, ...fallback]
      .filter((endpoint) => endpoint.capabilities.includes("resolve"))
      .map((endpoint) => ({
        ...endpoint,
        skipVerify: endpoint.skipVerify || insecure.has(new URL(endpoint.url).host),
      }));
  };
}

export function tlsOf(endpoint: RegistryEndpoint): TlsProfile {
  return { caFiles: endpoint.caFiles, skipVerify: endpoint.skipVerify };
}

/** containerd tells a mirror which registry it stands in for with `?ns=<registry>`. */
export function manifestUrl(endpoint: RegistryEndpoint, reference: ImageReference, ref: string): string {
  const ns = endpoint.mirror ? `?ns=${encodeURIComponent(reference.domain)}` : "";
  return `${endpoint.apiRoot}/${reference.path}/manifests/${ref}${ns}`;
}
