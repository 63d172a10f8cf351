#include "server/store/postgres_calls.h"

#include <cstdint>
#include <map>
#include <string_view>
#include <utility>

#include "server/store/row_crypto.h"

namespace mend::store::pg {
namespace {

StoreError error(StoreErrorCode code, std::string message) {
  return StoreError{code, std::move(message)};
}

// A PostgreSQL array literal in text format.
class ArrayLiteral {
 public:
  ArrayLiteral& number(std::int64_t value) {
    separate();
    text_ += std::to_string(value);
    return *this;
  }
  // A bytea element in hex ("\\x..." quoted: the array parser keeps one backslash).
  ArrayLiteral& bytes(std::string_view value) {
    static constexpr char kHex[] = "0123456789abcdef";
    separate();
    text_ += "\"\\\\x";
    for (const char c : value) {
      const auto byte = static_cast<unsigned char>(c);
      text_ += kHex[byte >> 4];
      text_ += kHex[byte & 0xF];
    }
    text_ += '"';
    return *this;
  }
  // A text element, quoted with its quotes and backslashes escaped.
  ArrayLiteral& text(std::string_view value) {
    separate();
    text_ += '"';
    for (const char c : value) {
      if (c == '"' || c == '\\') text_ += '\\';
      text_ += c;
    }
    text_ += '"';
    return *this;
  }
  std::string done() const { return text_ + "}"; }

 private:
  void separate() {
    if (text_.size() > 1) text_ += ',';
  }
  std::string text_ = "{";
};

// The events' columns as five arrays (seq, at_ms, actor_role, kind, sealed), sealed under
// `key`; false when one cannot be sealed.
bool event_arrays(Params& params, const std::string& room_id,
                  const std::vector<v1::Event>& events, const crypto::Key& key) {
  ArrayLiteral seqs;
  ArrayLiteral at;
  ArrayLiteral roles;
  ArrayLiteral kinds;
  ArrayLiteral sealed;
  for (const v1::Event& event : events) {
    auto box =
        crypto::seal(key, event.SerializeAsString(), rows::event_aad(room_id, event.seq()));
    if (!box) return false;
    seqs.number(static_cast<std::int64_t>(event.seq()));
    at.number(event.at_ms());
    roles.number(event.actor().role());
    kinds.number(event.body_case());
    sealed.bytes(*box);
  }
  params.text(seqs.done()).text(at.done()).text(roles.done()).text(kinds.done()).text(
      sealed.done());
  return true;
}

// The audit entries' columns as three arrays (at_ms, kind, entry), in clear (content-free).
void audit_arrays(Params& params, const std::vector<v1::AuditEntry>& entries) {
  ArrayLiteral at;
  ArrayLiteral kinds;
  ArrayLiteral blobs;
  for (const v1::AuditEntry& entry : entries) {
    at.number(entry.at_ms());
    kinds.number(entry.kind());
    blobs.bytes(entry.SerializeAsString());
  }
  params.text(at.done()).text(kinds.done()).text(blobs.done());
}

Params& made_key(Params& params, const WriteKey& key) {
  return key.made_wrapped.empty() ? params.null() : params.bytes(key.made_wrapped);
}

Call refused(StoreError e) { return Call{std::nullopt, std::move(e)}; }

// A rejection's or rewrite's room without a key: unknown (or destroyed), or kCorrupt.
Call keyless(const WriteKey& key) {
  return refused(key.refusal ? *key.refusal : error(StoreErrorCode::kNotFound, "unknown room"));
}

}  // namespace

Call append_call(const AppendRequest& request, const WriteKey& key) {
  if (auto invalid = rows::check_append(request)) return refused(*invalid);
  if (!key.key) {
    if (key.refusal) return refused(*key.refusal);
    return refused(error(StoreErrorCode::kConflict,
                         key.destroyed ? "room was destroyed" : "room does not exist"));
  }
  Params params;
  params.text(request.room_id)
      .int64(static_cast<std::int64_t>(request.expected_last_seq))
      .int64(static_cast<std::int64_t>(request.lease_epoch))
      .bytes(request.creator);
  made_key(params, key);
  if (!event_arrays(params, request.room_id, request.events, *key.key)) {
    return refused(error(StoreErrorCode::kUnavailable, "cannot encrypt an event"));
  }
  if (request.result) {
    const std::string lookup = rows::result_lookup(*key.key, request.result->key);
    auto sealed = crypto::seal(*key.key, request.result->result.SerializeAsString(),
                               rows::result_aad(request.room_id, lookup));
    if (!sealed) {
      return refused(error(StoreErrorCode::kUnavailable, "cannot encrypt a command result"));
    }
    params.bytes(lookup).bytes(*sealed);
  } else {
    params.null().null();
  }
  audit_arrays(params, request.audit);
  return Call{Statement{"append",
                        "SELECT mend_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                        "$13, $14, $15)",
                        std::move(params)},
              std::nullopt};
}

Call rejection_call(const RecordedResult& rejection, std::uint64_t lease_epoch,
                    const WriteKey& key) {
  if (rejection.result.accepted()) {
    return refused(error(StoreErrorCode::kInvalid, "an accepted result is not a rejection"));
  }
  if (!key.key) return keyless(key);
  const std::string& room_id = rejection.key.room_id;
  const std::string lookup = rows::result_lookup(*key.key, rejection.key);
  auto sealed = crypto::seal(*key.key, rejection.result.SerializeAsString(),
                             rows::result_aad(room_id, lookup));
  if (!sealed) {
    return refused(error(StoreErrorCode::kUnavailable, "cannot encrypt a command result"));
  }
  Params params;
  params.text(room_id).int64(static_cast<std::int64_t>(lease_epoch));
  made_key(params, key)
      .bytes(lookup)
      .bytes(*sealed)
      .bytes(rows::rejecter_digest(*key.key, rejection.key.participant))
      .int64(static_cast<std::int64_t>(kRejectionsKeptPerParticipant));
  return Call{Statement{"reject", "SELECT mend_fenced_reject($1, $2, $3, $4, $5, $6, $7)",
                        std::move(params)},
              std::nullopt};
}

Call rewrite_call(const std::string& room_id, const std::vector<v1::Event>& events,
                  const std::vector<v1::AuditEntry>& audit, std::uint64_t lease_epoch,
                  const WriteKey& key) {
  if (!key.key) return keyless(key);
  Params params;
  params.text(room_id).int64(static_cast<std::int64_t>(lease_epoch));
  made_key(params, key);
  if (!event_arrays(params, room_id, events, *key.key)) {
    return refused(error(StoreErrorCode::kUnavailable, "cannot encrypt an event"));
  }
  audit_arrays(params, audit);
  return Call{Statement{"rewrite",
                        "SELECT mend_fenced_rewrite($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        std::move(params)},
              std::nullopt};
}

Call audit_call(const std::string& room_id, const std::vector<v1::AuditEntry>& entries,
                std::uint64_t lease_epoch) {
  if (entries.empty()) {
    return refused(error(StoreErrorCode::kInvalid, "audit append without entries"));
  }
  Params params;
  params.text(room_id).int64(static_cast<std::int64_t>(lease_epoch));
  audit_arrays(params, entries);
  return Call{Statement{"audit", "SELECT mend_fenced_audit($1, $2, $3, $4, $5)", std::move(params)},
              std::nullopt};
}

Call refusals_call(const std::string& room_id, const std::vector<RefusalCount>& deltas) {
  if (auto invalid = check_refusals(deltas)) return refused(*invalid);
  ArrayLiteral partners;
  ArrayLiteral codes;
  ArrayLiteral counts;
  for (const RefusalCount& delta : deltas) {
    partners.number(delta.partner);
    codes.number(delta.code);
    counts.number(static_cast<std::int64_t>(delta.count));
  }
  Params params;
  params.text(room_id).text(partners.done()).text(codes.done()).text(counts.done());
  return Call{Statement{"refusals", "SELECT mend_add_refusals($1, $2, $3, $4)", std::move(params)},
              std::nullopt};
}

std::optional<StoreError> outcome_of(CallKind kind, const std::string& status) {
  if (status.empty()) return std::nullopt;
  // 'missing': an append names a room to continue (a conflict), the others a room to act on.
  if (status == "missing") {
    return kind == CallKind::kAppend ? error(StoreErrorCode::kConflict, "room does not exist")
                                     : error(StoreErrorCode::kNotFound, "unknown room");
  }
  static const std::map<std::string, StoreError, std::less<>> kStatuses = {
      {"fenced", {StoreErrorCode::kFenced, "the room's lease moved to another node"}},
      {"exists", {StoreErrorCode::kConflict, "room already exists"}},
      {"destroyed", {StoreErrorCode::kConflict, "room was destroyed"}},
      {"behind", {StoreErrorCode::kConflict, "room is not at the expected seq"}},
      {"recorded", {StoreErrorCode::kConflict, "command already recorded"}},
      {"empty", {StoreErrorCode::kInvalid, "rewrite without events"}},
      {"range", {StoreErrorCode::kInvalid, "rewrite of a seq that is not stored"}},
      {"twice", {StoreErrorCode::kInvalid, "rewrite names a seq twice"}},
      {"lost", {StoreErrorCode::kCorrupt, "an event below the room's last seq is missing"}},
  };
  auto it = kStatuses.find(status);
  if (it == kStatuses.end()) {
    return error(StoreErrorCode::kUnavailable, "PostgreSQL answered an unknown status");
  }
  return it->second;
}

std::string text_array(const std::vector<std::string>& items) {
  ArrayLiteral array;
  for (const std::string& item : items) array.text(item);
  return array.done();
}

}  // namespace mend::store::pg
