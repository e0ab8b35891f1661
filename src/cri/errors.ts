import { status as GrpcStatus } from "@grpc/grpc-js";
import { ClassifiedError, redactSecrets, type FailureKind } from "../failure/index.ts";

interface GrpcLikeError {
  code?: number;
  details?: string;
  message?: string;
}

/**
 * containerd before 2.1 unpacks every pulled manifest into a snapshot and refuses one whose layers
 * are not an image's rootfs (containerd's `rootfs: mismatched image rootfs and manifest layers`):
 * an OCI artifact can never be stored there, however often it is retried.
 */
const ARTIFACT_REFUSED = /mismatched image rootfs and manifest layers/i;

/** Message fragments seen from containerd and CRI-O, most specific first. */
const MESSAGE_KINDS: ReadonlyArray<readonly [RegExp, FailureKind]> = [
  [ARTIFACT_REFUSED, "unsupported"],
  [/invalid reference format|invalid image name|failed to parse image/i, "invalid"],
  [/401 Unauthorized|403 Forbidden|unauthorized|authentication required|access denied|denied:/i, "auth"],
  [/x509:|tls:|certificate/i, "tls"],
  [/429 Too Many Requests|toomanyrequests|rate limit/i, "rate_limited"],
  [/no space left on device|disk quota exceeded/i, "disk"],
  [/context deadline exceeded|i\/o timeout|timeout awaiting/i, "timeout"],
  [
    /connection refused|no such host|connection reset|network is unreachable|no route to host|\bEOF\b|dial tcp|server misbehaving|temporary failure in name resolution/i,
    "network",
  ],
  // The registry failed, not the runtime: containerd quotes the status it got.
  [
    /unexpected status from \w+ request to \S+: 5\d\d\b|\b5\d\d (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b/i,
    "network",
  ],
  [/not found|manifest unknown|name unknown/i, "not_found"],
];

function kindFromCode(code: number | undefined): FailureKind | undefined {
  switch (code) {
    case GrpcStatus.NOT_FOUND:
      return "not_found";
    case GrpcStatus.DEADLINE_EXCEEDED:
      return "timeout";
    case GrpcStatus.UNAVAILABLE:
      return "unavailable";
    case GrpcStatus.INVALID_ARGUMENT:
      return "invalid";
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED:
      return "auth";
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return "rate_limited";
    default:
      return undefined;
  }
}

/** grpc-js wraps socket errors in connection-manager prose; keep the part an operator acts on. */
function socketProblem(detail: string): string {
  const errno = /connect (ENOENT|ECONNREFUSED|EACCES|EPERM) (\S+?)\.?(?=\s|$)/.exec(detail);
  if (errno === null) return detail;
  const hint: Record<string, string> = {
    ENOENT: "no socket there; is the runtime running and its socket directory mounted?",
    ECONNREFUSED: "nothing is listening on the socket; is the runtime running?",
    EACCES: "permission denied on the socket; run as a user that may open it",
    EPERM: "permission denied on the socket; run as a user that may open it",
  };
  const code = errno[1] ?? "";
  return `connect ${code} ${errno[2] ?? ""} (${hint[code] ?? "socket error"})`;
}

export interface CallContext {
  readonly method: string;
  readonly endpoint: string;
  readonly image?: string | undefined;
  readonly secrets?: readonly string[];
  /**
   * The call's deadline had passed when it failed. The runtime's context ends at the same moment
   * as ours and it may answer first with its own words (containerd 2.x: "context canceled"), so
   * this decides the kind, not the runtime's message.
   */
  readonly pastDeadline?: boolean;
}

/** Turns a gRPC failure into a ClassifiedError whose message names the call and the image. */
export function classifyRuntimeError(error: unknown, context: CallContext): ClassifiedError {
  const grpc = (typeof error === "object" && error !== null ? error : {}) as GrpcLikeError;
  const raw = grpc.details ?? grpc.message ?? String(error);
  const detail = redactSecrets(raw, context.secrets);
  const subject = context.image === undefined ? context.method : `${context.method} ${context.image}`;
  let kind = context.pastDeadline === true ? "timeout" : kindFromCode(grpc.code);
  if (kind === undefined || (grpc.code === GrpcStatus.NOT_FOUND && context.pastDeadline !== true)) {
    kind = MESSAGE_KINDS.find(([pattern]) => pattern.test(raw))?.[1] ?? kind ?? "runtime";
  }
  let message: string;
  switch (kind) {
    case "unavailable":
      message = `container runtime at ${context.endpoint} is unavailable (${subject}): ${socketProblem(detail)}`;
      break;
    case "timeout":
      message =
        grpc.code === GrpcStatus.DEADLINE_EXCEEDED || context.pastDeadline === true
          ? `${subject}: no answer from the runtime at ${context.endpoint} before the deadline`
          : `${subject}: ${detail}`;
      break;
    case "unsupported": // only an artifact refused at unpack is classified so
      message = `${subject}: this runtime is too old for OCI artifacts (image volumes); containerd 2.1 or later stores them: ${detail}`;
      break;
    default:
      message = `${subject}: ${detail}`;
  }
  return new ClassifiedError(kind, message);
}
