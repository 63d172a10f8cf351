// What every durable store seals and keys its rows with (internal to server/store), so that
// SQLite and PostgreSQL store the same bytes: the AAD that binds a sealed event or command
// result to where it lives, the keyed digests that stand for command keys and participants,
// and the append checks that need no storage.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/store/crypto.h"
#include "server/store/store.h"

namespace mend::store::rows {

// AAD of a sealed event: its room and seq (a blob moved to another row fails to open).
std::string event_aad(std::string_view room_id, std::uint64_t seq);

// AAD of a sealed command result: its room and its lookup digest.
std::string result_aad(std::string_view room_id, std::string_view lookup);

// A recorded rejection's participant, for the per-participant bound: reveals nobody.
std::string rejecter_digest(const crypto::Key& room_key, std::string_view participant);

// The results key of a command: reveals neither participant nor command id, and cannot be
// linked to them once the room key is destroyed.
std::string result_lookup(const crypto::Key& room_key, const CommandKey& key);

// The recorded results of a room, from their lookups (result_lookup) as the store reads them.
std::shared_ptr<const RecordedCommands> recorded_commands(const crypto::Key& room_key,
                                                          const std::vector<std::string>& lookups);

// kInvalid unless the append has events with seqs expected_last_seq + 1, + 2, ... and a
// result (if any) of the append's own room.
std::optional<StoreError> check_append(const AppendRequest& request);

}  // namespace mend::store::rows
