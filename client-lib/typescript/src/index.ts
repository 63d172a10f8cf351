// @mend/client: the TypeScript SDK of mend. Public API (semver-stable once published):
// the live Client, the HTTP helper, errors and outcomes, the pure building blocks (for tests
// and custom clients), and every generated message type of proto/mend/v1.
export {
  Client,
  pageConnectUrl,
  roomOfToken,
  subprotocol,
  type ClientHandlers,
  type ClientOptions,
  type CommandInput,
  type ConnectionState,
  type EventKind,
  type EventOfKind,
} from "./client.js";
export { HttpClient, type FetchLike, type HttpOptions, type HttpResponse } from "./http.js";
export {
  ClientError,
  CloseCode,
  CommandOutcome,
  isResumableClose,
  isTerminalClose,
  type ClientErrorDetails,
  type ErrorCode,
} from "./errors.js";
export { Backoff, defaultBackoffPolicy, systemRandom, type BackoffPolicy, type RandomSource } from "./backoff.js";
export { EventSequencer, type ResumePosition } from "./sequencer.js";
export { makeCommandId, PendingCommands, type CommandCompletion, type PendingCommand } from "./pending.js";
export {
  defaultResumeStorage,
  memoryResumeStorage,
  resumeKey,
  webResumeStorage,
  type ResumeStorage,
  type StoredPosition,
  type WebStorageLike,
} from "./storage.js";
export {
  browserLifecycle,
  systemTimers,
  type Lifecycle,
  type LifecycleChange,
  type Timers,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./platform.js";
export * from "./gen/mend/v1/roles_pb.js";
export * from "./gen/mend/v1/template_pb.js";
export * from "./gen/mend/v1/conversation_pb.js";
export * from "./gen/mend/v1/frames_pb.js";
export * from "./gen/mend/v1/api_pb.js";
export * from "./gen/mend/v1/insights_pb.js";
