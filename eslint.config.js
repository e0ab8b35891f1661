import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The runtime, registry, cluster and process edges. The core decides; adapters talk to the world.
const ADAPTERS = ["cri", "containerd", "registry", "http", "agent", "cli", "kube", "cluster"];
const adapterImports = (depth) => ({
  group: ADAPTERS.map((folder) => `${"../".repeat(depth)}${folder}/**`),
  message:
    "The core declares ports; adapters implement them. Import the core from the adapter, not the reverse.",
});

export default tseslint.config(
  { ignores: ["node_modules/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An unhandled rejection kills a long-running daemon.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  {
    // The core: what to do with a set of images, decided without an adapter in reach.
    files: [
      "src/reference/**/*.ts",
      "src/imageset/**/*.ts",
      "src/warm/**/*.ts",
      "src/failure/**/*.ts",
      "src/concurrency/**/*.ts",
    ],
    rules: { "no-restricted-imports": ["error", { patterns: [adapterImports(1), adapterImports(2)] }] },
  },
  {
    // Pins declare the PinStore port; the containerd adapter implements it. Tests may wire the twin.
    files: ["src/pins/**/*.ts"],
    ignores: ["src/pins/**/*.test.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [adapterImports(1), adapterImports(2)] }] },
  },
  {
    // Commands reach other folders through their face, so a folder may rearrange its files.
    files: ["src/cli/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: String.raw`^\.\./(?!cli/)[^/]+/(?!(?:testing/)?index\.ts$)`,
              message: "Import another folder through its index.ts.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: "readonly" } },
  },
);
