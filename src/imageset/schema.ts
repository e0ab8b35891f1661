import { z } from "zod";

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const entryObject = z
  .object({
    image: z
      .string({ error: "expected an image reference string" })
      .min(1, "expected a non-empty image reference"),
    digest: z
      .string({ error: "expected a digest string" })
      .regex(DIGEST, "expected sha256:<64 hex> or sha512:<128 hex>")
      .optional(),
    /** `false` keeps the entry warm without pinning it against kubelet's image GC. */
    pin: z.boolean().optional(),
  })
  .strict();

/** An ImageSet document as written: entries are a reference string or `{image, digest, pin}`. */
export const imageSetSchema = z
  .object({
    apiVersion: z.literal("prepull/v1", { error: 'expected "prepull/v1"' }),
    kind: z.literal("ImageSet", { error: 'expected "ImageSet"' }),
    metadata: z
      .object({
        name: z.string({ error: "expected a name" }).regex(NAME, "expected a lowercase DNS-1123 name"),
      })
      .loose(),
    spec: z
      .object({
        images: z
          .array(
            z.union([z.string().min(1, "expected a non-empty image reference"), entryObject], {
              error: "expected an image reference or {image, digest}",
            }),
          )
          .nullish()
          .transform((images) => images ?? []),
        /** `false`: the set's images do not hold a new node's readiness gate closed (docs/readiness-gate.md). */
        gate: z.boolean({ error: "expected true or false" }).optional(),
      })
      .strict(),
  })
  .strict();

export type ImageSetInput = z.infer<typeof imageSetSchema>;
