// Errors of the mend TypeScript SDK: values with stable codes. Asynchronous calls never reject
// with anything but a ClientError, and Client.send never rejects at all (its outcome says).
import type { CommandResult } from "./gen/mend/v1/frames_pb.js";
import { RejectionCode, type Rejection } from "./gen/mend/v1/conversation_pb.js";

/**
 * Stable, lower-case error codes; the same names as the C++ SDK's `error_code_name`, plus
 * `frame_too_large`. A code never changes meaning.
 *
 * - `stopped`: the client was stopped ({@link Client.stop}) before the operation finished.
 * - `terminal_close`: the server closed the connection with a terminal close code (4500-4999);
 *   {@link ClientError.closeCode} says which (4501 unauthenticated or expired token, 4503
 *   observer consent revoked or room erased, 4504 unknown room, 4529 rate-limit abuse, ...).
 * - `gave_up`: reconnecting gave up after {@link BackoffPolicy.maxAttempts} failed attempts.
 * - `too_many_pending`: too many commands wait for a result ({@link ClientOptions.maxPendingCommands}).
 * - `invalid_argument`: the call's arguments are unusable (a malformed URL, an empty token, a
 *   command without a body, a duplicate command id, ...).
 * - `frame_too_large`: the command's frame is larger than the server accepts (the server closed
 *   with 1009 after it, or it is over {@link ClientOptions.maxClientFrameBytes}); it is failed,
 *   never resent.
 * - `network`: a transport failure (a dropped connection, an unreachable server, a failed fetch).
 * - `protocol`: the server answered, but not with what the protocol promises.
 * - `http_status`: an HTTP call was answered with a non-2xx status; see
 *   {@link ClientError.httpStatus} and {@link ClientError.serverCode}.
 * - `timeout`: a one-shot call did not finish within its timeout.
 */
export type ErrorCode =
  | "stopped"
  | "terminal_close"
  | "gave_up"
  | "too_many_pending"
  | "invalid_argument"
  | "frame_too_large"
  | "network"
  | "protocol"
  | "http_status"
  | "timeout";

/** Details of a {@link ClientError} besides its code and message. */
export interface ClientErrorDetails {
  /** `terminal_close`, and the close that preceded `gave_up`: the WebSocket close code. */
  closeCode?: number;
  /** `http_status`: the HTTP status. */
  httpStatus?: number;
  /** `http_status`: `ErrorResponse.code` when the body had one, e.g. "UNKNOWN_TEMPLATE". */
  serverCode?: string;
}

/**
 * An SDK error. `message` is human and never contains tokens or conversation content.
 * Plain data: safe to log.
 */
export class ClientError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** The WebSocket close code (`terminal_close`, `gave_up`), else 0. */
  readonly closeCode: number;
  /** The HTTP status (`http_status`), else 0. */
  readonly httpStatus: number;
  /** The server's stable error code (`http_status`), else "". */
  readonly serverCode: string;

  constructor(code: ErrorCode, message: string, details: ClientErrorDetails = {}) {
    super(message);
    this.name = "ClientError";
    this.code = code;
    this.closeCode = details.closeCode ?? 0;
    this.httpStatus = details.httpStatus ?? 0;
    this.serverCode = details.serverCode ?? "";
  }
}

/** Close codes of DESIGN 5 that the SDK names (the rest is handled by range). */
export const CloseCode = {
  /** Standard: a frame was over the server's `--read-message-max`; fails the command. */
  MessageTooBig: 1009,
  /** Server shutting down; reconnect. */
  ServerShutdown: 4001,
  /** The client was silent for 60 s; reconnect. */
  ClientSilent: 4002,
  /** Slow consumer; reconnect and resume, nothing is lost. */
  SlowConsumer: 4008,
  /** Replaced by a newer connection of the same participant. */
  Replaced: 4009,
  /** Unauthenticated: forged, malformed or expired token. Terminal. */
  Unauthenticated: 4501,
  /** Observer consent missing or revoked, or the room was erased. Terminal. */
  ConsentOrErased: 4503,
  /** Unknown room. Terminal. */
  UnknownRoom: 4504,
  /** Rate-limit abuse. Terminal. */
  RateLimitAbuse: 4529,
} as const;

/** 4000-4499: the client reconnects and resumes. */
export function isResumableClose(code: number): boolean {
  return code >= 4000 && code <= 4499;
}

/** 4500-4999: terminal; the client stays closed (a retry as is would only repeat it). */
export function isTerminalClose(code: number): boolean {
  return code >= 4500 && code <= 4999;
}

/**
 * How a command ended: the server's {@link CommandResult} (accepted or rejected), or an SDK
 * error when no result can come any more (client stopped, terminal close, too many pending,
 * frame too large). Exactly one of `result` and `error` is set.
 */
export class CommandOutcome {
  /** The server's answer, when it answered. */
  readonly result: CommandResult | undefined;
  /** Why no answer can come, when it cannot. */
  readonly error: ClientError | undefined;

  private constructor(result: CommandResult | undefined, error: ClientError | undefined) {
    this.result = result;
    this.error = error;
  }

  /** An outcome holding the server's answer. */
  static answered(result: CommandResult): CommandOutcome {
    return new CommandOutcome(result, undefined);
  }

  /** An outcome holding an SDK error. */
  static failed(error: ClientError): CommandOutcome {
    return new CommandOutcome(undefined, error);
  }

  /** True when the server accepted (and applied, exactly once) the command. */
  get accepted(): boolean {
    return this.result?.accepted === true;
  }

  /** The server's rejection (code, warm human message, retry hint), when it rejected. */
  get rejection(): Rejection | undefined {
    return this.result && !this.result.accepted ? this.result.rejection : undefined;
  }

  /** The rejection code; REJECTION_CODE_UNSPECIFIED when accepted or on an SDK error. */
  get rejectionCode(): RejectionCode {
    return this.rejection?.code ?? RejectionCode.REJECTION_CODE_UNSPECIFIED;
  }
}
