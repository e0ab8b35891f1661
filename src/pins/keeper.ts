import { statfs } from "node:fs/promises";
import type { AgentStatus } from "../agent-status/index.ts";
import { Rerunner } from "../concurrency/index.ts";
import { errorMessage } from "../failure/index.ts";
import type { ImageRuntime, RuntimeImage, WarmLogger } from "../warm/index.ts";
import { pinInputsDigest } from "./inputs-digest.ts";
import type { PinEntry, PinReason } from "./plan.ts";
import type { PinProbe, PinRecord, PinStore, PinSupport } from "./port.ts";
import { syncPins } from "./sync.ts";

export interface PinKeeperOptions<Stored extends PinRecord = PinRecord> {
  /** `--pin`: false leaves every pin as it is. */
  readonly enabled: boolean;
  /** `--pin-budget` as 0..1 of the image filesystem's size. */
  readonly budgetRatio: number;
  readonly runtime: ImageRuntime;
  /** containerd's own API on the runtime's socket. */
  readonly api: PinStore<Stored>;
  /** Whether that runtime pins (containerd ≥ 1.7); asked until the runtime answers. */
  readonly probe: PinProbe;
  /** The image filesystem's mountpoint (as the disk guard finds it). */
  readonly mountpoint: () => Promise<string>;
  /** The present set, keyed as the caller keys its entries. */
  readonly entries: () => ReadonlyArray<{ readonly key: string; readonly entry: PinEntry }>;
  readonly logger: WarmLogger;
  /** Told after each pin pass: `full` read containerd's records, `unchanged` had nothing to do. */
  readonly onPinPass?: (result: PinPassResult) => void;
}

export type PinPassResult = "full" | "unchanged" | "error";

/**
 * A pin dropped from some of an image's names (CRI still shows the image pinned) or a hand edit
 * of prepull's owner label lasts no longer than this.
 */
const FULL_PASS_EVERY_MS = 10 * 60_000;

/**
 * Labelling thousands of names while a large set warms slows its pulls by a fifth (bench/scale.ts):
 * pins wait for the warm to end, as new images are the last kubelet's GC would pick anyway. A warm
 * that never ends (a pull that keeps failing) still gets a pin pass this often.
 */
const DEFER_FOR_PULLS_MS = 10 * 60_000;

export type PinsStatus = AgentStatus["pins"];
export type EntryPinView = Pick<AgentStatus["entries"][number], "pinned" | "pinReason">;

const UNKNOWN: EntryPinView = { pinned: null, pinReason: null };

const OFF: PinSupport = { available: false, reason: "pinning is turned off (--pin=false)" };
const PROBING: PinSupport = { available: false, reason: "the runtime has not been asked yet" };

/**
 * Keeps the warm set pinned against kubelet's image GC (docs/pinning.md): after each settled
 * pass, one pin pass through containerd's own API, within a budget of the image filesystem.
 * Pin passes never overlap; one requested while another runs follows it, with a fresh inventory.
 * The capability is probed once the runtime answers, and again while it has not answered.
 * At rest a pin pass costs one digest: when the images, entries and budget are those of the
 * last settled pass, containerd's records are not read again (for up to FULL_PASS_EVERY_MS).
 */
export class PinKeeper<Stored extends PinRecord = PinRecord> {
  readonly #options: PinKeeperOptions<Stored>;
  #capability: PinSupport;
  #reached = false;
  #budgetBytes: number | null = null;
  #budgetProblem: string | null = null;
  /** Each entry's pin, and the image it was decided for. */
  #byKey = new Map<string, { readonly view: EntryPinView; readonly imageId: string | undefined }>();
  #status: PinsStatus | undefined;
  #count = 0;
  #bytes = 0;
  #reasons: Readonly<Partial<Record<PinReason, number>>> = {};
  /** Pin passes, one at a time; `images` is a ListImages answer that is still current, if any. */
  readonly #passes: Rerunner<readonly RuntimeImage[] | undefined>;
  /** The inputs of the last full pin pass that found nothing to change, and when it ran. */
  #settled: { readonly digest: string; readonly at: number } | undefined;
  #lastStartedAt = performance.now();

  constructor(options: PinKeeperOptions<Stored>) {
    this.#options = options;
    this.#capability = options.enabled ? PROBING : OFF;
    this.#passes = new Rerunner(
      (images) => this.#passOnce(images),
      (error: unknown) => {
        this.#settled = undefined;
        this.#options.onPinPass?.("error");
        this.#options.logger.warn(
          { error: errorMessage(error) },
          "pin pass failed; trying again after the next pass",
        );
      },
    );
  }

  /**
   * Asks for a pin pass; `images` is a ListImages answer that is still current, if there is one.
   * With `pullsRunning` it is put off (see DEFER_FOR_PULLS_MS): the pass that settles last asks again.
   */
  request(images?: readonly RuntimeImage[], { pullsRunning = false } = {}): void {
    if (!this.#options.enabled) return;
    if (pullsRunning && performance.now() - this.#lastStartedAt < DEFER_FOR_PULLS_MS) return;
    // A pass asked for while one runs reads the images afresh: the answer may be stale by then.
    void this.#passes.request(this.#passes.running ? undefined : images);
  }

  /** Resolves once no pin pass runs. */
  async idle(): Promise<void> {
    await this.#passes.idle();
  }

  /** The same object while nothing changed, so the status body cache can keep its bytes. */
  status(): PinsStatus {
    const available = this.#capability.available;
    const next: PinsStatus = {
      available,
      reason: available ? this.#budgetProblem : this.#capability.reason,
      count: available ? this.#count : 0,
      bytes: available ? this.#bytes : 0,
      budgetBytes: available ? this.#budgetBytes : null,
    };
    const last = this.#status;
    const same =
      last !== undefined &&
      (Object.keys(next) as Array<keyof PinsStatus>).every((key) => last[key] === next[key]);
    if (!same) this.#status = next;
    return this.#status ?? next;
  }

  /** Entries by the last pin pass's decision (`budget`: left unpinned, over the budget); none while unavailable. */
  reasons(): Readonly<Partial<Record<PinReason, number>>> {
    return this.#capability.available ? this.#reasons : {};
  }

  /**
   * An entry's pin as the last pin pass left it; nulls while pinning is unavailable, or while no
   * pin pass has seen the entry's current image (e.g. it was pulled since).
   */
  entry(key: string, imageId: string | undefined): EntryPinView {
    const decided = this.#capability.available ? this.#byKey.get(key) : undefined;
    return decided !== undefined && decided.imageId === imageId ? decided.view : UNKNOWN;
  }

  async #passOnce(images: readonly RuntimeImage[] | undefined): Promise<void> {
    this.#lastStartedAt = performance.now();
    const result = await this.#pass(images);
    if (result !== undefined) this.#options.onPinPass?.(result);
  }

  async #probe(): Promise<void> {
    const { runtime, probe, logger } = this.#options;
    const before = this.#capability;
    try {
      const runtimeName = (await runtime.version()).runtimeName;
      const capabilities = await probe(runtimeName);
      // Until containerd answers (or the runtime is another one), ask again after the next pass.
      this.#reached = capabilities.version !== undefined || runtimeName !== "containerd";
      this.#capability = capabilities.pinning;
      if (capabilities.pinning.available)
        logger.info({ containerd: capabilities.version }, "pinning available");
    } catch (error) {
      this.#capability = { available: false, reason: `the runtime did not answer: ${errorMessage(error)}` };
    }
    const now = this.#capability;
    if (!now.available && (before.available || before.reason !== now.reason)) {
      logger.warn({ reason: now.reason }, "pinning unavailable; images are kept warm unpinned");
    }
  }

  /** The budget in bytes, or 0 (pin nothing) with the reason when the filesystem cannot be read. */
  async #budget(): Promise<number> {
    let mountpoint: string | undefined;
    try {
      mountpoint = await this.#options.mountpoint();
      const stats = await statfs(mountpoint);
      this.#budgetBytes = Math.floor(stats.blocks * stats.bsize * this.#options.budgetRatio);
      this.#budgetProblem = null;
    } catch (error) {
      const where = mountpoint === undefined ? "the image filesystem" : `the image filesystem ${mountpoint}`;
      const problem = `pinning nothing: cannot read the size of ${where} for the pin budget (${errorMessage(error)}); mount it read-only or set --image-fs-path`;
      if (problem !== this.#budgetProblem) this.#options.logger.warn({}, problem);
      this.#budgetBytes = 0;
      this.#budgetProblem = problem;
    }
    return this.#budgetBytes;
  }

  /** One pin pass; `undefined` when pinning is unavailable. */
  async #pass(images: readonly RuntimeImage[] | undefined): Promise<PinPassResult | undefined> {
    if (!this.#reached) await this.#probe();
    if (!this.#capability.available) return undefined;
    const { api, runtime, logger } = this.#options;
    const budget = await this.#budget();
    const keyed = this.#options.entries();
    const inventory = images ?? (await runtime.listImages());
    const digest = pinInputsDigest(inventory, keyed, budget);
    const now = performance.now();
    if (this.#settled?.digest === digest && now - this.#settled.at < FULL_PASS_EVERY_MS) return "unchanged";

    const entries = keyed.map(({ entry }) => entry);
    const { plan, outcome } = await syncPins(api, inventory, entries, budget);
    const byKey = new Map<string, { view: EntryPinView; imageId: string | undefined }>();
    keyed.forEach(({ key, entry }, index) => {
      const pin = plan.entries[index];
      if (pin === undefined) return;
      const last = this.#byKey.get(key)?.view;
      const same = last?.pinned === pin.pinned && last.pinReason === pin.reason;
      const view = same ? last : { pinned: pin.pinned, pinReason: pin.reason };
      byKey.set(key, { view, imageId: entry.imageId });
    });
    this.#byKey = byKey;
    const reasons: Partial<Record<PinReason, number>> = {};
    for (const pin of plan.entries) reasons[pin.reason] = (reasons[pin.reason] ?? 0) + 1;
    this.#reasons = reasons;
    const pinnedImages = new Set(
      entries.filter((_, index) => plan.entries[index]?.reason === "pinned").map((entry) => entry.imageId),
    );
    this.#count = pinnedImages.size;
    this.#bytes = plan.pinnedBytes;
    // A pass that changed labels changed CRI's `pinned` too, so its inputs are already stale.
    const changed = outcome.pinned.length + outcome.unpinned.length + outcome.failed.length > 0;
    this.#settled = changed ? undefined : { digest, at: now };
    if (outcome.pinned.length > 0 || outcome.unpinned.length > 0) {
      logger.info({ pinned: outcome.pinned, unpinned: outcome.unpinned }, "pins changed");
    }
    for (const { name, error } of outcome.failed) {
      logger.warn({ name, error: error.message }, "could not change a pin; trying again after the next pass");
    }
    return "full";
  }
}
