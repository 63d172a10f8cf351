#include "server/store/row_crypto.h"

#include <algorithm>
#include <cstring>

namespace mend::store::rows {
namespace {

std::string seq_bytes(std::uint64_t seq) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return out;
}

StoreError invalid(std::string message) {
  return StoreError{StoreErrorCode::kInvalid, std::move(message)};
}

}  // namespace

std::string event_aad(std::string_view room_id, std::uint64_t seq) {
  std::string aad = "mend/event/v1";
  aad.push_back('\0');
  aad.append(room_id);
  aad.push_back('\0');
  aad.append(seq_bytes(seq));
  return aad;
}

std::string result_aad(std::string_view room_id, std::string_view lookup) {
  std::string aad = "mend/result/v1";
  aad.push_back('\0');
  aad.append(room_id);
  aad.push_back('\0');
  aad.append(lookup);
  return aad;
}

std::string rejecter_digest(const crypto::Key& room_key, std::string_view participant) {
  std::string input = "mend/rejected-by/v1";
  input.push_back('\0');
  input.append(participant);
  return crypto::keyed_digest(room_key, input);
}

std::string result_lookup(const crypto::Key& room_key, const CommandKey& key) {
  std::string input = "mend/result-lookup/v1";
  input.push_back('\0');
  input.append(key.participant);
  input.push_back('\0');
  input.append(key.command_id);
  return crypto::keyed_digest(room_key, input);
}

namespace {
std::uint64_t lookup_digest(std::string_view lookup) {
  std::uint64_t digest = 0;
  std::memcpy(&digest, lookup.data(), std::min(sizeof digest, lookup.size()));
  return digest;
}
}  // namespace

std::shared_ptr<const RecordedCommands> recorded_commands(const crypto::Key& room_key,
                                                          const std::vector<std::string>& lookups) {
  std::vector<std::uint64_t> digests;
  digests.reserve(lookups.size());
  for (const std::string& lookup : lookups) digests.push_back(lookup_digest(lookup));
  return std::make_shared<const RecordedCommands>(
      [room_key](const CommandKey& key) { return lookup_digest(result_lookup(room_key, key)); },
      std::move(digests));
}

std::optional<StoreError> check_append(const AppendRequest& request) {
  if (request.events.empty()) return invalid("append without events");
  std::uint64_t next = request.expected_last_seq + 1;
  for (const v1::Event& event : request.events) {
    if (event.seq() != next) return invalid("event seqs are not contiguous");
    ++next;
  }
  if (request.result && request.result->key.room_id != request.room_id) {
    return invalid("the result's room is not the append's room");
  }
  return std::nullopt;
}

}  // namespace mend::store::rows
