import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Copies an image out of the sandbox's registry with skopeo, as an operator carrying images
 * would: `destination` is skopeo's transport and path (`oci-archive:FILE`, `oci:DIR`,
 * `docker-archive:FILE`); the copy is named `reference`, as pods write it. `allPlatforms` keeps
 * every platform of an index.
 */
export async function skopeoCopy(
  reference: string,
  destination: string,
  options: { readonly allPlatforms?: boolean } = {},
): Promise<void> {
  await run("skopeo", [
    "copy",
    "--quiet",
    "--src-tls-verify=false",
    ...(options.allPlatforms === true ? ["--multi-arch=all"] : []),
    `docker://${reference}`,
    `${destination}:${reference}`,
  ]);
}
