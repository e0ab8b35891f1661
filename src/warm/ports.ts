/**
 * What the warm core needs from a container runtime. The core declares these ports; the CRI
 * adapter (and any other runtime adapter) implements them, so nothing here depends on gRPC.
 * Tests use the in-memory runtime in ./testing/, held to the CRI adapter's behaviour by one
 * contract (./testing/runtime-contract.ts) run against both.
 */

/** What the runtime reports for one image (CRI `Image`). */
export interface RuntimeImage {
  /** The config digest (`sha256:…`); CRI-O reports bare hex. */
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  /** Compressed bytes for the node's platform. */
  readonly size: number;
  readonly pinned: boolean;
}

export interface RuntimeVersion {
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  readonly runtimeApiVersion: string;
}

export interface ImageFilesystemUsage {
  readonly mountpoint: string;
  readonly usedBytes: number | undefined;
}

/** Registry credentials handed to the runtime for one pull (CRI `AuthConfig`). */
export interface PullAuth {
  readonly username?: string;
  readonly password?: string;
  readonly identityToken?: string;
  readonly registryToken?: string;
}

export interface CallOptions {
  /** Deadline for this call; every call has one (defaults come from the adapter). */
  readonly timeoutMs?: number;
  /** Aborting it cancels the call in the runtime (a cancelled pull stops downloading). */
  readonly signal?: AbortSignal;
}

export interface PullOptions extends CallOptions {
  readonly auth?: PullAuth;
}

/** The node's image store as the warm core sees it. */
export interface ImageRuntime {
  readonly endpoint: string;
  version(options?: CallOptions): Promise<RuntimeVersion>;
  listImages(options?: CallOptions): Promise<RuntimeImage[]>;
  /** `undefined` when absent: the runtime answers OK with no image, as kubelet expects. */
  imageStatus(image: string, options?: CallOptions): Promise<RuntimeImage | undefined>;
  /** Returns the image reference the runtime recorded (the config digest). */
  pullImage(image: string, options?: PullOptions): Promise<string>;
  removeImage(image: string, options?: CallOptions): Promise<void>;
  imageFsInfo(options?: CallOptions): Promise<ImageFilesystemUsage[]>;
  close(): void;
}

/**
 * Records a name at content the node already holds under another name, without a pull: the tag
 * of a locked entry once the registry confirmed it points at the digest the node holds. The
 * runtime's own API implements it where it has one (containerd); without it the tag is pulled.
 */
export interface ImageNamer {
  /**
   * Records `name` (`N:T`) at the content `digestName` (`N@D`) is recorded at, as a pull of `name`
   * would record it. The runtime's CRI may report the new name only a moment later.
   */
  tagImage(name: string, digestName: string, options?: CallOptions): Promise<void>;
}

/** Where an entry's content came from when prepull put it on the node. */
export type ContentSource = "bundle" | "registry";

export interface ImportRequest {
  /** The entry, as pods write it (for messages). */
  readonly image: string;
  readonly digest: string;
  /** The names pods use, recorded at `digest` as a pull records them: `N@D`, and `N:T`. */
  readonly names: readonly string[];
}

export type ImportOutcome =
  | { readonly imported: true; readonly bundle: string; readonly bytes: number }
  /** No bundle holds the image (or the runtime cannot import): the entry is pulled instead. */
  | { readonly imported: false; readonly reason: string };

/** Puts images on the node from bundles instead of a registry (`--bundles`, `warm --from`). */
export interface ImageImporter {
  importImage(request: ImportRequest, options?: CallOptions): Promise<ImportOutcome>;
}
