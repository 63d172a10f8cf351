#include "server/store/pg_conn.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace mend::store::pg {
namespace {

// Bounds a connection attempt; libpq's own default waits forever.
constexpr const char* kConnectTimeoutSeconds = "3";

std::uint64_t big_endian(const char* data, int length) {
  std::uint64_t value = 0;
  for (int i = 0; i < length; ++i) value = (value << 8) | static_cast<unsigned char>(data[i]);
  return value;
}

// PostgreSQL's notices (e.g. "relation already exists, skipping") are not errors: not printed.
void ignore_notice(void* /*unused*/, const char* /*message*/) {}

std::string trimmed(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

bool Result::ok() const {
  if (!result_) return false;
  const ExecStatusType status = PQresultStatus(result_.get());
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

std::uint64_t Result::affected() const {
  if (!result_) return 0;
  const char* count = PQcmdTuples(result_.get());
  return count == nullptr || *count == '\0' ? 0 : std::stoull(count);
}

std::int64_t Result::int64(int row, int column) const {
  const char* data = PQgetvalue(result_.get(), row, column);
  const int length = PQgetlength(result_.get(), row, column);
  return static_cast<std::int64_t>(big_endian(data, std::min(length, 8)));
}

bool Result::boolean(int row, int column) const {
  return PQgetlength(result_.get(), row, column) == 1 &&
         *PQgetvalue(result_.get(), row, column) != 0;
}

std::string Result::bytes(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::string Result::sqlstate() const {
  if (!result_) return {};
  const char* state = PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE);
  return state == nullptr ? "" : state;
}

std::string Result::message() const {
  return result_ ? trimmed(PQresultErrorMessage(result_.get())) : "no result";
}

Params& Params::text(std::string_view value) {
  values_.emplace_back(value);
  formats_.push_back(0);
  nulls_.push_back(false);
  return *this;
}

Params& Params::bytes(std::string_view value) {
  values_.emplace_back(value);
  formats_.push_back(1);
  nulls_.push_back(false);
  return *this;
}

Params& Params::int64(std::int64_t value) { return text(std::to_string(value)); }

Params& Params::null() {
  text({});
  nulls_.back() = true;
  return *this;
}

std::vector<const char*> Params::values() const {
  std::vector<const char*> out;
  for (std::size_t i = 0; i < values_.size(); ++i) {
    out.push_back(nulls_[i] ? nullptr : values_[i].c_str());
  }
  return out;
}

std::vector<int> Params::lengths() const {
  std::vector<int> out;
  for (const std::string& value : values_) out.push_back(static_cast<int>(value.size()));
  return out;
}

std::unique_ptr<Conn> Conn::connect(const std::string& url, std::string& error) {
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), kConnectTimeoutSeconds, "mendd", nullptr};
  // expand_dbname: `url` may be a URI or key=value string; its own settings win.
  PGconn* raw = PQconnectdbParams(keys, values, 1);
  auto conn = std::make_unique<Conn>(raw);
  if (raw == nullptr || PQstatus(raw) != CONNECTION_OK) {
    error = raw == nullptr ? "out of memory" : conn->last_error();
    return nullptr;
  }
  PQsetNoticeProcessor(raw, &ignore_notice, nullptr);
  return conn;
}

Conn::~Conn() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Result Conn::exec(const char* sql) { return Result(PQexec(conn_, sql)); }

bool Conn::prepared(const char* name) const {
  return std::find(prepared_.begin(), prepared_.end(), name) != prepared_.end();
}

Result Conn::run(const char* name, const char* sql, const Params& params) {
  if (!prepared(name)) {
    Result prepared(PQprepare(conn_, name, sql, 0, nullptr));
    if (!prepared.ok()) return prepared;
    prepared_.emplace_back(name);
  }
  const std::vector<const char*> values = params.values();
  const std::vector<int> lengths = params.lengths();
  return Result(PQexecPrepared(conn_, name, params.size(), values.data(), lengths.data(),
                               params.formats(), 1));
}

std::vector<Result> Conn::pipeline(const std::vector<Statement>& statements) {
  std::vector<Result> results(statements.size());
  if (PQenterPipelineMode(conn_) != 1) return results;
  // The answers expected, in order: a statement's index, or -1 for the preparation of a
  // statement new on this connection (prepared in the same pipeline, before its first use).
  std::vector<std::pair<int, const char*>> expected;
  bool sent = true;
  for (std::size_t i = 0; i < statements.size() && sent; ++i) {
    const Statement& statement = statements[i];
    const bool preparing = std::any_of(expected.begin(), expected.end(), [&](const auto& e) {
      return e.first < 0 && std::strcmp(e.second, statement.name) == 0;
    });
    if (!prepared(statement.name) && !preparing) {
      sent = PQsendPrepare(conn_, statement.name, statement.sql, 0, nullptr) == 1;
      expected.emplace_back(-1, statement.name);
    }
    const std::vector<const char*> values = statement.params.values();
    const std::vector<int> lengths = statement.params.lengths();
    sent = sent && PQsendQueryPrepared(conn_, statement.name, statement.params.size(),
                                       values.data(), lengths.data(),
                                       statement.params.formats(), 1) == 1;
    expected.emplace_back(static_cast<int>(i), statement.name);
  }
  sent = sent && PQpipelineSync(conn_) == 1;
  bool synced = false;
  if (sent) {
    for (const auto& [index, name] : expected) {
      PGresult* first = PQgetResult(conn_);
      if (first == nullptr) break;  // lost
      Result result(first);
      // Each statement's answers end with a null result.
      while (PGresult* more = PQgetResult(conn_)) PQclear(more);
      if (index < 0) {
        if (result.ok()) prepared_.emplace_back(name);
      } else {
        results[static_cast<std::size_t>(index)] = std::move(result);
      }
    }
    Result sync(PQgetResult(conn_));
    synced = sync.status() == PGRES_PIPELINE_SYNC;
  }
  if (!synced || PQexitPipelineMode(conn_) != 1) unusable_ = true;
  return results;
}

std::string Conn::last_error() const { return trimmed(PQerrorMessage(conn_)); }

StoreError error_of(const Result& result, const std::string& what) {
  const std::string state = result.sqlstate();
  StoreErrorCode code = StoreErrorCode::kUnavailable;
  if (state == "23505") code = StoreErrorCode::kConflict;
  if (state.rfind("XX", 0) == 0) code = StoreErrorCode::kCorrupt;
  return StoreError{code, what + ": " + result.message()};
}

}  // namespace mend::store::pg
