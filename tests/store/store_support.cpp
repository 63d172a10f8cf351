#include "store_support.h"

#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>

#include <doctest/doctest.h>
#include <sqlite3.h>

namespace mend::store::testing {
namespace {

constexpr auto kWaitLimit = std::chrono::seconds(30);

// Runs `call` with a completion that fulfils a promise, and waits for it (bounded).
template <typename T, typename Call>
T wait_for(Call call) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  call([promise](T value) { promise->set_value(std::move(value)); });
  REQUIRE_MESSAGE(future.wait_for(kWaitLimit) == std::future_status::ready,
                  "the store did not complete in time");
  return future.get();
}

}  // namespace

v1::Event event(std::uint64_t seq, const std::string& text) {
  v1::Event e;
  e.set_seq(seq);
  e.set_at_ms(1'700'000'000'000 + static_cast<std::int64_t>(seq) * 1000);
  e.mutable_actor()->set_role(v1::PARTNER_A);
  if (text.empty()) {
    e.mutable_floor_passed();
  } else {
    e.mutable_shared()->set_text(text);
  }
  return e;
}

std::vector<v1::Event> events(std::uint64_t first, std::uint64_t count) {
  std::vector<v1::Event> out;
  for (std::uint64_t seq = first; seq < first + count; ++seq) out.push_back(event(seq));
  return out;
}

v1::CommandResult accepted(const std::string& command_id, std::uint64_t first, std::uint64_t last) {
  v1::CommandResult result;
  result.set_command_id(command_id);
  result.set_accepted(true);
  result.set_first_seq(first);
  result.set_last_seq(last);
  return result;
}

std::optional<StoreError> append(Store& store, const std::string& room, std::uint64_t expected,
                                 std::vector<v1::Event> evs, std::optional<RecordedResult> result) {
  return wait_for<std::optional<StoreError>>([&](auto done) {
    store.append(AppendRequest{room, expected, std::move(evs), std::move(result)}, std::move(done));
  });
}

std::optional<StoreError> append(Store& store, AppendRequest request) {
  return wait_for<std::optional<StoreError>>(
      [&](auto done) { store.append(std::move(request), std::move(done)); });
}

LoadResult load(Store& store, const std::string& room, std::uint64_t after_seq) {
  return wait_for<LoadResult>([&](auto done) { store.load(room, after_seq, std::move(done)); });
}

FindResult find(Store& store, const CommandKey& key) {
  return wait_for<FindResult>([&](auto done) { store.find_result(key, std::move(done)); });
}

v1::CommandResult rejected(const std::string& command_id, v1::RejectionCode code) {
  v1::CommandResult result;
  result.set_command_id(command_id);
  result.mutable_rejection()->set_code(code);
  result.mutable_rejection()->set_message("That does not fit this step.");
  return result;
}

std::optional<StoreError> record_rejection(Store& store, const CommandKey& key,
                                           v1::RejectionCode code, std::uint64_t lease_epoch) {
  return wait_for<std::optional<StoreError>>([&](auto done) {
    store.record_rejection(RecordedResult{key, rejected(key.command_id, code)}, lease_epoch,
                           std::move(done));
  });
}

std::optional<StoreError> destroy(Store& store, const std::string& room) {
  return wait_for<std::optional<StoreError>>(
      [&](auto done) { store.destroy_room(room, std::move(done)); });
}

std::optional<StoreError> rewrite(Store& store, const std::string& room,
                                  std::vector<v1::Event> evs) {
  return wait_for<std::optional<StoreError>>(
      [&](auto done) { store.rewrite_events(room, std::move(evs), std::move(done)); });
}

ListRoomsResult list(Store& store) {
  return wait_for<ListRoomsResult>([&](auto done) { store.list_rooms(std::move(done)); });
}

v1::AuditEntry audit_entry(v1::AuditKind kind, std::uint64_t epoch) {
  v1::AuditEntry entry;
  entry.set_kind(kind);
  entry.set_at_ms(event(1).at_ms());
  entry.mutable_actor()->set_role(v1::PARTNER_A);
  entry.set_epoch(epoch);
  return entry;
}

std::optional<StoreError> append_audited(Store& store, const std::string& room,
                                         std::uint64_t expected, std::vector<v1::Event> evs,
                                         std::vector<v1::AuditEntry> audit) {
  return wait_for<std::optional<StoreError>>([&](auto done) {
    AppendRequest request{room, expected, std::move(evs), std::nullopt};
    request.audit = std::move(audit);
    store.append(std::move(request), std::move(done));
  });
}

std::optional<StoreError> destroy_audited(Store& store, const std::string& room,
                                          std::vector<v1::AuditEntry> audit,
                                          std::uint64_t lease_epoch) {
  return wait_for<std::optional<StoreError>>([&](auto done) {
    store.destroy_room_audited(room, std::move(audit), lease_epoch, std::move(done));
  });
}

std::optional<StoreError> rewrite_audited(Store& store, const std::string& room,
                                          std::vector<v1::Event> evs,
                                          std::vector<v1::AuditEntry> audit,
                                          std::uint64_t lease_epoch) {
  return wait_for<std::optional<StoreError>>([&](auto done) {
    store.rewrite_events_audited(room, std::move(evs), std::move(audit), lease_epoch,
                                 std::move(done));
  });
}

AuditLoadResult audit_log(Store& store, const std::string& room) {
  return wait_for<AuditLoadResult>([&](auto done) { store.load_audit(room, std::move(done)); });
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

bool any_file_contains(const std::filesystem::path& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && read_file(entry.path()).find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string sql(const std::filesystem::path& db_file, const std::string& statement) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> owner(db, &sqlite3_close);
  sqlite3_stmt* raw = nullptr;
  REQUIRE_MESSAGE(sqlite3_prepare_v2(db, statement.c_str(), -1, &raw, nullptr) == SQLITE_OK,
                  std::string(sqlite3_errmsg(db)));
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
  const int rc = sqlite3_step(raw);
  REQUIRE_MESSAGE((rc == SQLITE_ROW || rc == SQLITE_DONE), std::string(sqlite3_errmsg(db)));
  if (rc != SQLITE_ROW) return {};
  const void* blob = sqlite3_column_blob(raw, 0);
  return blob == nullptr ? std::string()
                         : std::string(static_cast<const char*>(blob),
                                       static_cast<std::size_t>(sqlite3_column_bytes(raw, 0)));
}

}  // namespace mend::store::testing
