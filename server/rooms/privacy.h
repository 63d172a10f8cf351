// Privacy rules of the rooms as pure functions (DESIGN.md section 7): which stored texts an
// erasure or a retention purge rewrites, which events make audit entries, what a transcript
// holds. The room host (room_privacy.cpp) applies them; nothing here touches a store or clock.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "mend/v1/api.pb.h"
#include "mend/v1/conversation.pb.h"
#include "server/engine/state.h"

namespace mend::rooms::privacy {

// What an erased text reads everywhere (events, replays, transcripts).
inline constexpr const char* kErasedText = engine::kErasedText;

inline constexpr std::int64_t kMsPerDay = 24LL * 3600 * 1000;

// A room that never closed keeps its content for the agreed retention from its last activity,
// but at least this many days: a conversation that is only resting is not purged under the
// couple (retention 0 means "gone at the end", and an idle room ends by being abandoned).
inline constexpr std::uint32_t kOpenRoomMinimumDays = 1;

// A room in which the partners have not both consented (no retention was agreed) keeps its
// content (the topic it was created with) this many days after its last activity.
inline constexpr std::uint32_t kUnconsentedRetentionDays = 7;

// Replaces every non-empty text of `event` (message texts, intention, topic, start-up form,
// prompts, notes) with kErasedText. Names of partners and observers, the template and
// content-free fields stay. Returns whether anything changed.
bool erase_texts(v1::Event& event);

// Replaces every non-empty text of `event` that is not already gone with
// engine::kRetractedText (as erase_texts does with kErasedText). Returns whether it changed.
bool retract_texts(v1::Event& event);

// Copies of the events of `log` at `seqs` that still hold a text, with their texts retracted:
// a retracted message is gone for good (from the room's log, the store, every replay and
// transcript), not only hidden. `log`: events in seq order, the whole log or a part of it
// (a room core's window, a store read); seqs outside it are skipped.
std::vector<v1::Event> withdraw_retracted(const std::vector<v1::Event>& log,
                                          const std::vector<std::uint64_t>& seqs);

// Copies of the events of `log` authored by partner `author` that still hold a text, with
// their texts erased (for Store::rewrite_events). Empty when there is nothing left to erase.
std::vector<v1::Event> erase_contributions(const std::vector<v1::Event>& log, v1::Role author);

// Copies of every event of `log` that still holds a text (any author, notes, prompts, the
// topic given at creation), with the texts erased: a retention purge.
std::vector<v1::Event> purge_content(const std::vector<v1::Event>& log);

// The audit entries an applied event causes (consent given, observer approved / revoked /
// admitted / left, partner left, pauses, time-outs, consultation breaks, close). Content-free
// by construction: only roles, observer names, seqs, times, terms and reasons are copied.
std::vector<v1::AuditEntry> audit_entries_for(const v1::Event& event);

// An audit entry of `kind` by `actor` at `at_ms` (other fields unset).
v1::AuditEntry audit_entry(v1::AuditKind kind, const v1::Actor& actor, std::int64_t at_ms);

// The events of a transcript for `viewer`: those engine::visible_to allows, in seq order; a
// retracted message is shown as retracted (its texts read engine::kRetractedText). `log` must
// be the log `state` was built from.
std::vector<v1::Event> transcript_events(const engine::RoomState& state,
                                         const std::vector<v1::Event>& log,
                                         const v1::Actor& viewer);

// When a room's content is due for its retention purge. Closed: `closed_at_ms` (its
// ConversationClosed event's at_ms) plus the effective retention_days. Never closed: its last
// activity (the later of `last_event_ms` and its next timer deadline) plus the effective
// retention_days, at least kOpenRoomMinimumDays, or plus kUnconsentedRetentionDays while the
// partners have not both consented. nullopt for a room without a template.
std::optional<std::int64_t> purge_due_ms(const engine::RoomState& state, std::int64_t last_event_ms,
                                         std::optional<std::int64_t> closed_at_ms);

}  // namespace mend::rooms::privacy
