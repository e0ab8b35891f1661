import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A directory laid out as kubelet mounts a ConfigMap: the files live in a timestamped dir,
 * `..data` points at it, and each key is a symlink through `..data`. An update writes a new
 * timestamped dir and renames a fresh `..data` symlink over the old one, atomically.
 */
export class ConfigMapVolume {
  readonly dir: string;
  #version = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(files: Record<string, string>): Promise<ConfigMapVolume> {
    const volume = new ConfigMapVolume(await mkdtemp(join(tmpdir(), "prepull-configmap-")));
    await volume.update(files);
    return volume;
  }

  async update(files: Record<string, string>): Promise<void> {
    this.#version += 1;
    const versionDir = `..2026_11_24_00_00_00.${String(this.#version).padStart(6, "0")}`;
    await mkdir(join(this.dir, versionDir));
    for (const [name, text] of Object.entries(files)) await writeFile(join(this.dir, versionDir, name), text);
    let previous: string | undefined;
    try {
      previous = await readlink(join(this.dir, "..data"));
    } catch {
      previous = undefined;
    }
    await symlink(versionDir, join(this.dir, "..data_tmp"));
    await rename(join(this.dir, "..data_tmp"), join(this.dir, "..data"));
    for (const name of Object.keys(files)) {
      await symlink(join("..data", name), join(this.dir, name)).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      });
    }
    if (previous !== undefined) await rm(join(this.dir, previous), { recursive: true, force: true });
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function imageSetYaml(
  name: string,
  images: ReadonlyArray<string | { image: string; digest: string }>,
): string {
  const lines = images.map((entry) =>
    typeof entry === "string"
      ? `    - ${entry}`
      : `    - image: ${entry.image}\n      digest: ${entry.digest}`,
  );
  return [
    "apiVersion: prepull/v1",
    "kind: ImageSet",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    lines.length === 0 ? "  images: []" : "  images:",
    ...lines,
    "",
  ].join("\n");
}
