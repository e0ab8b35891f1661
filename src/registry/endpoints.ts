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

/**
 * What an endpoint is asked for, as containerd's hosts.toml names it: `resolve` a tag, or `pull`
 * content by digest (a manifest or a blob).
 */
export type EndpointCapability = "resolve" | "pull";

/**
 * Where to ask about images of one registry domain, in order: flags' mirrors, hosts.toml,
 * upstream; only the endpoints with the capability (`resolve` unless told).
 */
export type EndpointPlanner = (domain: string, capability?: EndpointCapability) => RegistryEndpoint[];

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
  return (domain, capability = "resolve") => {
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
      .filter((endpoint) => endpoint.capabilities.includes(capability))
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
function nsOf(endpoint: RegistryEndpoint, reference: ImageReference): string {
  return endpoint.mirror ? `?ns=${encodeURIComponent(reference.domain)}` : "";
}

export function manifestUrl(endpoint: RegistryEndpoint, reference: ImageReference, ref: string): string {
  return `${endpoint.apiRoot}/${reference.path}/manifests/${ref}${nsOf(endpoint, reference)}`;
}

export function blobUrl(endpoint: RegistryEndpoint, reference: ImageReference, digest: string): string {
  return `${endpoint.apiRoot}/${reference.path}/blobs/${digest}${nsOf(endpoint, reference)}`;
}
