/** Observes every call, e.g. for metrics or to count calls in a benchmark. */
export type CallObserver = (call: {
  readonly method: string;
  readonly durationMs: number;
  readonly ok: boolean;
}) => void;
