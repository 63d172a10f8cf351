// HttpClient: the server's HTTP API (DESIGN 8; README "HTTP API") over fetch, with JSON bodies
// in the Protobuf JSON mapping of proto/mend/v1/api.proto (fromJson/toJson of the generated
// types). Every call resolves with the typed answer or rejects with a ClientError.
import { create, fromJson, toJson, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  CreateRoomRequestSchema,
  CreateRoomResponseSchema,
  EraseContributionsResponseSchema,
  EraseRoomResponseSchema,
  ErrorResponseSchema,
  GetAuditResponseSchema,
  GetRoomResponseSchema,
  GetSeriesInsightsResponseSchema,
  GetTranscriptResponseSchema,
  ListRoomsResponseSchema,
  ListTemplatesResponseSchema,
  type CreateRoomResponse,
  type EraseContributionsResponse,
  type EraseRoomResponse,
  type GetAuditResponse,
  type GetRoomResponse,
  type GetSeriesInsightsResponse,
  type GetTranscriptResponse,
  type ListRoomsResponse,
  type ListTemplatesResponse,
} from "./gen/mend/v1/api_pb.js";
import {
  GetInsightsResponseSchema,
  GetSummaryResponseSchema,
  type GetInsightsResponse,
  type GetSummaryResponse,
} from "./gen/mend/v1/insights_pb.js";
import { ClientError } from "./errors.js";

/** The `fetch` function the helper calls (the global one by default). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Options of an {@link HttpClient}. */
export interface HttpOptions {
  /**
   * `http://host:port` or `https://host:port` (a path prefix is allowed). Default: the page's
   * own origin in a browser (`location.origin`); required elsewhere.
   */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <apiKey>` on createRoom, listRooms and getSeriesInsights when set. */
  apiKey?: string;
  /** Bound on one whole call (ms). Default 10 000. */
  timeoutMs?: number;
  /** The fetch implementation; default the global `fetch`. */
  fetch?: FetchLike;
}

/** The answer of {@link HttpClient.request}: status and body, whatever the status. */
export interface HttpResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The HTTP API. Errors (a rejected promise, always a ClientError): `http_status` with
 * `httpStatus` and `serverCode` (the server's stable code, e.g. "UNKNOWN_TEMPLATE",
 * "UNAUTHENTICATED", "PARTNERS_ONLY", "ROOM_ERASED") and its human message; `network`;
 * `timeout`; `protocol` (an unparseable answer). Invite tokens travel only in the
 * Authorization header, never in a URL.
 */
export class HttpClient {
  private readonly baseUrl: string;
  private readonly options: HttpOptions;

  constructor(options: HttpOptions = {}) {
    this.options = options;
    const base = options.baseUrl ?? (globalThis as { location?: { origin: string } }).location?.origin;
    if (!base) throw new ClientError("invalid_argument", "HttpClient needs a baseUrl outside a browser page");
    this.baseUrl = base.replace(/\/+$/, "");
  }

  /** POST /v1/rooms: creates a room; one invite per partner, then per observer. */
  createRoom(request: MessageInitShape<typeof CreateRoomRequestSchema>): Promise<CreateRoomResponse> {
    const body = JSON.stringify(toJson(CreateRoomRequestSchema, create(CreateRoomRequestSchema, request)));
    return this.call(CreateRoomResponseSchema, "POST", "/v1/rooms", this.options.apiKey, body);
  }

  /**
   * GET /v1/rooms: the caseload, every room created with this client's API key (or, on a server
   * without keys, from the caller's address), content-free: template, phase, who is connected,
   * pending consents and observers, last activity.
   */
  listRooms(): Promise<ListRoomsResponse> {
    return this.call(ListRoomsResponseSchema, "GET", "/v1/rooms", this.options.apiKey);
  }

  /**
   * GET /v1/series/{id}/insights: the insights of each conversation of the series created with
   * this client's API key, oldest first. `http_status` 404 `UNKNOWN_SERIES` when there is none.
   */
  getSeriesInsights(seriesId: string): Promise<GetSeriesInsightsResponse> {
    return this.call(GetSeriesInsightsResponseSchema, "GET", `/v1/series/${encodeURIComponent(seriesId)}/insights`, this.options.apiKey);
  }

  /** GET /v1/templates: every template's name, title and description. */
  listTemplates(): Promise<ListTemplatesResponse> {
    return this.call(ListTemplatesResponseSchema, "GET", "/v1/templates");
  }

  /** GET /v1/rooms/{id}: the caller's view, with an invite token. */
  getRoom(roomId: string, token: string): Promise<GetRoomResponse> {
    return this.call(GetRoomResponseSchema, "GET", roomPath(roomId), token);
  }

  /**
   * GET /v1/rooms/{id}/transcript: the events the caller may see (partners; observers only
   * when both partners allowed it). Every export is audited.
   */
  getTranscript(roomId: string, token: string): Promise<GetTranscriptResponse> {
    return this.call(GetTranscriptResponseSchema, "GET", `${roomPath(roomId)}/transcript`, token);
  }

  /** GET /v1/rooms/{id}/insights: content-free figures (partners; observers both approve). */
  getInsights(roomId: string, token: string): Promise<GetInsightsResponse> {
    return this.call(GetInsightsResponseSchema, "GET", `${roomPath(roomId)}/insights`, token);
  }

  /** GET /v1/rooms/{id}/summary: a closed conversation's summary (audited). */
  getSummary(roomId: string, token: string): Promise<GetSummaryResponse> {
    return this.call(GetSummaryResponseSchema, "GET", `${roomPath(roomId)}/summary`, token);
  }

  /** GET /v1/rooms/{id}/audit: the content-free audit log (partners). */
  getAudit(roomId: string, token: string): Promise<GetAuditResponse> {
    return this.call(GetAuditResponseSchema, "GET", `${roomPath(roomId)}/audit`, token);
  }

  /** DELETE /v1/rooms/{id}/contributions: the caller's own texts become "[erased]" (partners). */
  eraseContributions(roomId: string, token: string): Promise<EraseContributionsResponse> {
    return this.call(EraseContributionsResponseSchema, "DELETE", `${roomPath(roomId)}/contributions`, token);
  }

  /**
   * DELETE /v1/rooms/{id}: the first partner's call records the request (status REQUESTED);
   * the other partner's call erases the room for good (ERASED).
   */
  eraseRoom(roomId: string, token: string): Promise<EraseRoomResponse> {
    return this.call(EraseRoomResponseSchema, "DELETE", roomPath(roomId), token);
  }

  /**
   * Any request (e.g. GET /healthz); `bearer` is sent as Authorization when set. Rejects only
   * for transport failures and timeouts; any status is returned.
   */
  async request(method: string, path: string, body?: string, bearer?: string): Promise<HttpResponse> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const controller = new AbortController();
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const fetchImpl = this.options.fetch ?? ((input: string, init: RequestInit) => globalThis.fetch(input, init));
    try {
      const response = await fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        body,
        signal: controller.signal,
        cache: "no-store",
      });
      return {
        status: response.status,
        contentType: response.headers.get("content-type") ?? "",
        body: await response.text(),
      };
    } catch (error) {
      if (controller.signal.aborted) {
        throw new ClientError("timeout", `${method} ${path} did not finish within ${timeoutMs} ms`);
      }
      throw new ClientError("network", `${method} ${path} failed: ${describe(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private async call<Desc extends DescMessage>(
    schema: Desc,
    method: string,
    path: string,
    bearer?: string,
    body?: string,
  ): Promise<MessageShape<Desc>> {
    const response = await this.request(method, path, body, bearer);
    if (response.status < 200 || response.status > 299) throw statusError(method, path, response);
    try {
      return fromJson(schema, JSON.parse(response.body), { ignoreUnknownFields: true });
    } catch (error) {
      throw new ClientError("protocol", `${method} ${path}: unparseable answer (${describe(error)})`);
    }
  }
}

function roomPath(roomId: string): string {
  return `/v1/rooms/${encodeURIComponent(roomId)}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A non-2xx answer as a ClientError, with the server's code and message when it sent one. */
function statusError(method: string, path: string, response: HttpResponse): ClientError {
  let serverCode = "";
  let message = `${method} ${path} answered ${response.status}`;
  try {
    const parsed = fromJson(ErrorResponseSchema, JSON.parse(response.body), { ignoreUnknownFields: true });
    serverCode = parsed.code;
    if (parsed.message) message = parsed.message;
  } catch {
    // Not an ErrorResponse (a proxy's page): the status alone says what happened.
  }
  return new ClientError("http_status", message, { httpStatus: response.status, serverCode });
}
