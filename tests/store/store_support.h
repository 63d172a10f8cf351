// Helpers for the store tests: a temporary data directory, blocking wrappers around the
// asynchronous Store calls (they wait on the completion, bounded in time), event builders and
// raw file access for corruption tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "server/store/store.h"
#include "tests/common/temp_dir.h"

namespace mend::store::testing {

// A fresh temporary directory (tests/common/temp_dir.h).
using mend::testing::TempDir;

// An event of `seq` at a fixed time; with text: a Shared by partner A, else a FloorPassed.
v1::Event event(std::uint64_t seq, const std::string& text = {});
std::vector<v1::Event> events(std::uint64_t first, std::uint64_t count);
v1::CommandResult accepted(const std::string& command_id, std::uint64_t first, std::uint64_t last);

// Blocking calls: wait for the completion (at most kWaitLimit) and return what it reported.
std::optional<StoreError> append(Store& store, const std::string& room, std::uint64_t expected,
                                 std::vector<v1::Event> evs,
                                 std::optional<RecordedResult> result = std::nullopt);
// Appends a request built by the test (for fields the helper above does not set).
std::optional<StoreError> append(Store& store, AppendRequest request);
LoadResult load(Store& store, const std::string& room, std::uint64_t after_seq = 0);
FindResult find(Store& store, const CommandKey& key);
v1::CommandResult rejected(const std::string& command_id, v1::RejectionCode code);
// lease_epoch: Store::record_rejection's fencing (0: none).
std::optional<StoreError> record_rejection(Store& store, const CommandKey& key,
                                           v1::RejectionCode code = v1::WRONG_PHASE,
                                           std::uint64_t lease_epoch = 0);
std::optional<StoreError> destroy(Store& store, const std::string& room);
std::optional<StoreError> rewrite(Store& store, const std::string& room,
                                  std::vector<v1::Event> evs);
ListRoomsResult list(Store& store);

// The audit log variants: the change and its audit entries in one commit.
v1::AuditEntry audit_entry(v1::AuditKind kind, std::uint64_t epoch = 0);
std::optional<StoreError> append_audited(Store& store, const std::string& room,
                                         std::uint64_t expected, std::vector<v1::Event> evs,
                                         std::vector<v1::AuditEntry> audit);
// lease_epoch: Store::destroy_room_audited's and rewrite_events_audited's fencing (0: none).
std::optional<StoreError> destroy_audited(Store& store, const std::string& room,
                                          std::vector<v1::AuditEntry> audit,
                                          std::uint64_t lease_epoch = 0);
std::optional<StoreError> rewrite_audited(Store& store, const std::string& room,
                                          std::vector<v1::Event> evs,
                                          std::vector<v1::AuditEntry> audit,
                                          std::uint64_t lease_epoch = 0);
AuditLoadResult audit_log(Store& store, const std::string& room);

// Raw file helpers for corruption and at-rest tests.
std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& bytes);
// Whether any file in `dir` (recursively) contains `needle`, byte for byte.
bool any_file_contains(const std::filesystem::path& dir, const std::string& needle);
// Runs one SQL statement on the database file directly (not through the store) and returns
// the first column of the first row as bytes (empty when none).
std::string sql(const std::filesystem::path& db_file, const std::string& statement);

}  // namespace mend::store::testing
