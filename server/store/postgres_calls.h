// PostgresStore's writes as calls of the schema's functions (postgres_schema.cpp, migration 3),
// internal to server/store. The writer seals the content here (the database never sees a room
// key unwrapped) and sends a whole batch's calls in one pipeline (pg_conn.h); each function
// checks before it writes and answers a status, which outcome_of() turns into the write's
// outcome. Thread safety: plain functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/store/crypto.h"
#include "server/store/pg_conn.h"
#include "server/store/store.h"

namespace mend::store::pg {

// A room's key as the writer knows it before its transaction.
struct WriteKey {
  std::optional<crypto::Key> key;  // nullopt: see `refusal`
  // The wrapped key when the writer made it in this batch (a new room): the functions refuse
  // the write when the room's stored key is another one. Empty: a stored key.
  std::string made_wrapped;
  // No key: its key is missing or does not unwrap (kCorrupt); unset: the room does not exist,
  // or was destroyed (`destroyed`).
  std::optional<StoreError> refusal;
  bool destroyed = false;
};

// A write as one function call, or its outcome when it is decided without one.
struct Call {
  std::optional<Statement> statement;
  std::optional<StoreError> outcome;
};

enum class CallKind { kAppend, kRejection, kRewrite, kAudit, kRefusals };

// An append. For a new room (expected_last_seq 0) `key` is the one just made.
Call append_call(const AppendRequest& request, const WriteKey& key);
// A rejection, fenced by `lease_epoch` (0: not fenced).
Call rejection_call(const RecordedResult& rejection, std::uint64_t lease_epoch,
                    const WriteKey& key);
// A rewrite, fenced by `lease_epoch` (0: not fenced).
Call rewrite_call(const std::string& room_id, const std::vector<v1::Event>& events,
                  const std::vector<v1::AuditEntry>& audit, std::uint64_t lease_epoch,
                  const WriteKey& key);
// Audit entries, fenced by `lease_epoch` (0: not fenced).
Call audit_call(const std::string& room_id, const std::vector<v1::AuditEntry>& entries,
                std::uint64_t lease_epoch);
Call refusals_call(const std::string& room_id, const std::vector<RefusalCount>& deltas);

// The outcome a function's status ("" done) means for a write of that kind.
std::optional<StoreError> outcome_of(CallKind kind, const std::string& status);

// A text[] literal of `items`, for `= ANY($1::text[])`.
std::string text_array(const std::vector<std::string>& items);

}  // namespace mend::store::pg
