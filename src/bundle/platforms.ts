import { InputError } from "../failure/index.ts";
import { platformMatches, type Platform } from "../registry/index.ts";

/** What a bundle carries of a multi-platform image when no --platform is given. */
export const DEFAULT_PLATFORMS: readonly Platform[] = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
];

/** Which children of an index go into a bundle: every one, or those of some platforms. */
export type PlatformChoice =
  | { readonly all: true }
  | {
      readonly all: false;
      readonly platforms: readonly Platform[];
    };

export const DEFAULT_CHOICE: PlatformChoice = { all: false, platforms: DEFAULT_PLATFORMS };

const PART = /^[a-z0-9][a-z0-9._-]*$/;

/** `os/arch[/variant]`, as `--platform` takes it (`linux/amd64`, `linux/arm/v7`). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split("/");
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !parts.every((part) => PART.test(part))) {
    throw new InputError(
      `--platform "${text}": expected os/arch[/variant] in lowercase, e.g. linux/amd64 or linux/arm/v7`,
      { source: "--platform" },
    );
  }
  return {
    os: os ?? "",
    architecture: architecture ?? "",
    ...(variant === undefined ? {} : { variant }),
  };
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, ...(platform.variant ? [platform.variant] : [])].join("/");
}

export function describeChoice(choice: PlatformChoice): string {
  return choice.all ? "every platform" : choice.platforms.map(formatPlatform).join(", ");
}

/** Whether an index child of `platform` (none for an artifact index's children) is chosen. */
export function isChosen(platform: Platform | undefined, choice: PlatformChoice): boolean {
  if (platform === undefined || choice.all) return true;
  return choice.platforms.some((wanted) => platformMatches(platform, wanted));
}
