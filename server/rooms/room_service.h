// The seam between the network layer (server/net) and the rooms (server/rooms).
//
// net authenticates a connection (tokens.h), then talks to rooms only through RoomService.
// rooms never sees a socket: it sees a Recipient, to which it hands encoded ServerFrames.
// Message path: net decodes a ClientFrame -> RoomService::submit -> the room's strand ->
// engine::decide -> Store::append (committed) -> engine::evolve -> one encoded frame per
// distinct view -> Recipient::send of every attached participant who may see it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mend/v1/api.pb.h"
#include "mend/v1/frames.pb.h"
#include "mend/v1/insights.pb.h"
#include "server/rooms/close_code.h"

namespace mend::rooms {

// A live connection of one participant, as the rooms see it. Implemented by net.
// Thread safety: send/close are called from a room's strand and must not block: they queue
// and return. After close() the room never calls send() on it again.
// One encoded ServerFrame for a connection, and the highest event seq it carries (Event.seq,
// ReplayDone.last_seq; 0: none), so the connection knows its position (Heartbeat.last_seq)
// without reading the bytes. The bytes are shared by every recipient of the same frame.
struct OutFrame {
  std::shared_ptr<const std::string> bytes;
  std::uint64_t last_seq = 0;
};

class Recipient {
 public:
  virtual ~Recipient() = default;
  // Queues one encoded ServerFrame (encoded once for every recipient who gets the same one).
  virtual void send(OutFrame frame) = 0;
  // Queues one frame of an attach's Welcome, replay and ReplayDone, in order with send(). A
  // replay is never cut by the live queue's bound (DESIGN 5): it is paced by the connection's
  // write completions instead. The default is send().
  virtual void send_replay(OutFrame frame) { send(std::move(frame)); }
  // Closes the connection with a close code of DESIGN 5 and a short reason (no content).
  virtual void close(CloseCode code, std::string reason) = 0;
};

// Errors of the HTTP-facing calls: a stable code ("UNKNOWN_TEMPLATE", "UNKNOWN_ROOM",
// "INVALID_ARGUMENT", "UNAVAILABLE", ...), a human message, and the HTTP status to use.
struct ServiceError {
  std::string code;
  std::string message;
  int http_status = 400;
  // When set, the caller may retry after this many seconds (HTTP Retry-After); 0: not said.
  int retry_after_s = 0;
};

template <typename T>
struct Result {
  std::optional<T> value;
  std::optional<ServiceError> error;
};

// Who a connection or an HTTP caller is, after token verification.
struct Participant {
  std::string room_id;
  v1::Actor actor;
};

// Rooms: creation, attachment of live connections, command submission.
// Thread safety: every method may be called from any thread; callbacks run on an executor
// of the service (never inline under a lock); they may be called after the caller is gone,
// so capture weak pointers.
class RoomService {
 public:
  virtual ~RoomService() = default;

  // Creates a room from a template (validated request: template known, names unique and
  // well-formed). Returns the room id and one signed invite token per partner and observer.
  virtual void create_room(const v1::CreateRoomRequest& request,
                           std::function<void(Result<v1::CreateRoomResponse>)> done) = 0;

  // create_room on behalf of `creator` (a quota key such as "key:<API key>" or "ip:<address>";
  // only a keyed digest of it is stored): refused ROOM_QUOTA_EXCEEDED (429) once the rooms the
  // store holds from `creator` reach `limit`, restarts included. The default (test doubles)
  // ignores the quota.
  virtual void create_room_for(const v1::CreateRoomRequest& request, const std::string& creator,
                               std::uint32_t limit,
                               std::function<void(Result<v1::CreateRoomResponse>)> done) {
    (void)creator;
    (void)limit;
    create_room(request, std::move(done));
  }

  // The loaded templates, for GET /v1/templates.
  virtual v1::ListTemplatesResponse list_templates() const = 0;

  // The current view of `who`, for GET /v1/rooms/{id}.
  virtual void get_view(const Participant& who,
                        std::function<void(Result<v1::GetRoomResponse>)> done) = 0;

  // Attaches a live connection after a valid Hello. The room sends, through `recipient`, in
  // order: a frame with Welcome (recovered true when every event after resume_after_seq can be
  // replayed, else false with the full view), the replayed events (several per frame), a
  // ReplayDone item, then live frames. A previous connection of the same participant is
  // closed with kReplaced. An observer not approved by both partners, or an unknown room, is
  // refused: `done` gets the close code to use; on success `done` gets nullopt.
  virtual void attach(const Participant& who, const v1::Hello& hello,
                      std::shared_ptr<Recipient> recipient,
                      std::function<void(std::optional<CloseCode>)> done) = 0;

  // Detaches `recipient` if it is still the participant's current connection.
  virtual void detach(const Participant& who, const Recipient* recipient) = 0;

  // Closes `recipient` with `code` once the participant heard the result of its command in
  // process, if any (a command whose commit is under way is answered before the close frame);
  // its commands not yet decided are dropped, and later ones too (an SDK that resumes sends
  // them again). For the drain on SIGTERM. The default detaches and closes at once.
  virtual void close_after_answers(const Participant& who, std::shared_ptr<Recipient> recipient,
                                   CloseCode code, std::string reason);

  // Runs one command. The CommandResult (same command_id; a retried id gets the original
  // result without applying it twice) and the events the command caused reach the sender in
  // one frame through its Recipient, after the store committed them; the other participants
  // get the events (with their own view) in one frame each.
  virtual void submit(const Participant& who, v1::Command command) = 0;

  // A client's Typing frame (DESIGN 5: ephemeral, no seq, never stored). The room relays it
  // as a TypingNotice{who, typing} item, without a view, to every other attached participant
  // (the other partner and admitted observers) and to nobody else; nothing is stored, so it is
  // never replayed. Dropped silently when: the sender is not an attached partner; `typing` is
  // true but the sender's view offers no text action now (share, reflect, correct, ...);
  // `typing` is true and a typing notice of this sender was relayed less than a second ago
  // (rate limit: at most one "typing" per participant per second); `typing` is false and the
  // last relayed notice of this sender was already false. The default drops every frame.
  virtual void typing(const Participant& who, bool typing);

  // --- Privacy (DESIGN 7). Errors common to these: UNKNOWN_ROOM (404), ROOM_ERASED (410, the
  // partners erased the room), UNAVAILABLE (503, the store failed; nothing changed), and
  // PARTNERS_ONLY (403) for an observer where only partners may act. The defaults answer
  // NOT_IMPLEMENTED (501), so other implementations (test doubles) need not have them.

  // DELETE /v1/rooms/{id}/contributions: the caller's own texts become "[erased]" in the store,
  // in memory and for everyone connected (a ContentErased item); seqs stay; the epoch changes.
  virtual void erase_contributions(const Participant& who,
                                   std::function<void(Result<v1::EraseContributionsResponse>)> done);

  // DELETE /v1/rooms/{id}: the first partner's request is recorded (status REQUESTED); the
  // other partner's request destroys the room (key first, then rows; status ERASED) and closes
  // every connection with kConsentRevoked after a ContentErased item. A repeated request of the
  // same partner changes nothing.
  virtual void erase_room(const Participant& who,
                          std::function<void(Result<v1::EraseRoomResponse>)> done);

  // GET /v1/rooms/{id}/audit: the room's content-free audit log (partners only; also after
  // the room was erased).
  virtual void get_audit(const Participant& who,
                         std::function<void(Result<v1::GetAuditResponse>)> done);

  // GET /v1/rooms/{id}/transcript: the caller's transcript (audited). Observers: 403
  // OBSERVER_NOT_APPROVED unless approved by both partners, 403 TRANSCRIPT_NOT_SHARED unless
  // both partners allowed transcript_to_observer.
  virtual void get_transcript(const Participant& who,
                              std::function<void(Result<v1::GetTranscriptResponse>)> done);

  // GET /v1/rooms/{id}/insights (issue 14): the room's content-free insights with each
  // partner's refusals. Partners; observers only while both partners approve them (403
  // OBSERVER_NOT_APPROVED).
  virtual void get_insights(const Participant& who,
                            std::function<void(Result<v1::GetInsightsResponse>)> done);

  // GET /v1/rooms/{id}/summary (issue 14): the summary of a closed conversation, derived from
  // its log as kept now (retracted and erased texts left out); audited
  // (AUDIT_SUMMARY_EXPORTED). 409 CONVERSATION_NOT_CLOSED before CLOSED. Observers: 403
  // OBSERVER_NOT_APPROVED unless approved by both partners, 403 SUMMARY_NOT_SHARED unless both
  // partners allowed summary_to_observer.
  virtual void get_summary(const Participant& who,
                           std::function<void(Result<v1::GetSummaryResponse>)> done);

  // --- Caseload (issue 14). `creator` is the quota key of create_room_for ("key:<API key>"
  // or "ip:<address>"); only rooms created by it are listed. A room loaded on this node answers
  // its live status; every other one (served by another node, or not loaded) is read from the
  // store without being loaded or leased (`connected` then lists nobody: connections are known
  // only to the node serving the room). So the listing does not depend on which node answers,
  // and its cost grows with the creator's rooms. UNAVAILABLE (503) when the store cannot list
  // the rooms.

  // GET /v1/rooms: each room's content-free status, ordered by room id.
  virtual void list_rooms_for(const std::string& creator,
                              std::function<void(Result<v1::ListRoomsResponse>)> done);

  // GET /v1/series/{id}/insights: the insights of each of the creator's rooms in the series,
  // oldest first. UNKNOWN_SERIES (404) when the creator has no room in it.
  virtual void get_series_insights(const std::string& creator, const std::string& series_id,
                                   std::function<void(Result<v1::GetSeriesInsightsResponse>)> done);

  // POST /v1/rooms/{id}/access: a new invite token for partner `who`, whose token may have
  // expired (net checked its signature only), valid for the default invite lifetime from now
  // (audited). PARTNERS_ONLY (403) for an observer; the room must still be kept.
  virtual void renew_access(const Participant& who,
                            std::function<void(Result<v1::RenewAccessResponse>)> done);
};

namespace detail {
inline ServiceError not_implemented() {
  return ServiceError{"NOT_IMPLEMENTED", "This server does not offer this.", 501};
}
}  // namespace detail

inline void RoomService::typing(const Participant&, bool) {}
inline void RoomService::close_after_answers(const Participant& who,
                                             std::shared_ptr<Recipient> recipient,
                                             CloseCode code, std::string reason) {
  detach(who, recipient.get());
  recipient->close(code, std::move(reason));
}
inline void RoomService::erase_contributions(
    const Participant&, std::function<void(Result<v1::EraseContributionsResponse>)> done) {
  done({std::nullopt, detail::not_implemented()});
}
inline void RoomService::erase_room(const Participant&,
                                    std::function<void(Result<v1::EraseRoomResponse>)> done) {
  done({std::nullopt, detail::not_implemented()});
}
inline void RoomService::get_audit(const Participant&,
                                   std::function<void(Result<v1::GetAuditResponse>)> done) {
  done({std::nullopt, detail::not_implemented()});
}
inline void RoomService::get_transcript(
    const Participant&, std::function<void(Result<v1::GetTranscriptResponse>)> done) {
  done({std::nullopt, detail::not_implemented()});
}
inline void RoomService::get_insights(
    const Participant&, std::function<void(Result<v1::GetInsightsResponse>)> done) {
  done({std::nullopt, detail::not_implemented()});
}
inline void RoomService::get_summary(
    const Participant&, std::function<void(Result<v1::GetSummaryResponse>)> done) {
  done({std::nullopt, detail::not_implemented()});
}
inline void RoomService::list_rooms_for(
    const std::string&, std::function<void(Result<v1::ListRoomsResponse>)> done) {
  done({std::nullopt, detail::not_implemented()});
}
inline void RoomService::get_series_insights(
    const std::string&, const std::string&,
    std::function<void(Result<v1::GetSeriesInsightsResponse>)> done) {
  done({std::nullopt, detail::not_implemented()});
}
inline void RoomService::renew_access(
    const Participant&, std::function<void(Result<v1::RenewAccessResponse>)> done) {
  done({std::nullopt, detail::not_implemented()});
}

}  // namespace mend::rooms
