import { copyFile, mkdir, readdir, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";

const CGROUP_MOUNT = "/sys/fs/cgroup";

/**
 * A cgroup of its own in every hierarchy, for one kubelet's `cgroupRoot`. Two kubelets sharing
 * one root would each take the other's pods for orphans and kill them. On cgroup v1 a new
 * cpuset group has no CPUs or memory nodes until given its parent's.
 */
export interface CgroupRoot {
  /** As kubelet's `cgroupRoot` names it: a path from each hierarchy's root. */
  readonly path: string;
  remove(): Promise<void>;
}

async function hierarchies(): Promise<string[]> {
  const entries = await readdir(CGROUP_MOUNT, { withFileTypes: true });
  return entries.filter((entry) => entry.isDirectory()).map((entry) => join(CGROUP_MOUNT, entry.name));
}

export async function createCgroupRoot(name: string): Promise<CgroupRoot> {
  const path = `/${name}`;
  for (const hierarchy of await hierarchies()) {
    const dir = join(hierarchy, name);
    await mkdir(dir, { recursive: true });
    if (hierarchy.endsWith("/cpuset")) {
      for (const file of ["cpuset.cpus", "cpuset.mems"])
        await copyFile(join(hierarchy, file), join(dir, file));
    }
  }
  return {
    path,
    async remove() {
      for (const hierarchy of await hierarchies()) await removeTree(join(hierarchy, name));
    },
  };
}

/** cgroups are removed leaf first; one still holding a process stays (and says so by throwing). */
async function removeTree(dir: string): Promise<void> {
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  if (!exists) return;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeTree(join(dir, entry.name));
  }
  await rmdir(dir);
}
