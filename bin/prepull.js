#!/usr/bin/env node
import module from "node:module";

const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(
    `prepull: needs Node.js 24 or later, this is ${process.version}; ` +
      "run it with `npx prepull` (which uses the project's own Node 24) or install Node 24\n",
  );
  process.exit(2);
}

// Keeps compiled code (and the TypeScript already stripped to JavaScript) between runs, in
// NODE_COMPILE_CACHE or the temp dir: a command starts in half the time and memory. Where neither
// is writable this is a no-op; the container image sets NODE_COMPILE_CACHE to a cache filled when
// the image was built (scripts/compile-cache.ts), which Node then only reads.
module.enableCompileCache();
const { main } = await import("../src/cli/index.ts");

process.exitCode = await main(process.argv.slice(2));
