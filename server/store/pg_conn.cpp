#include "server/store/pg_conn.h"

#include <algorithm>
#include <cstring>

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
  return *this;
}

Params& Params::bytes(std::string_view value) {
  values_.emplace_back(value);
  formats_.push_back(1);
  return *this;
}

Params& Params::int64(std::int64_t value) { return text(std::to_string(value)); }

std::vector<const char*> Params::values() const {
  std::vector<const char*> out;
  for (const std::string& value : values_) out.push_back(value.c_str());
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

Result Conn::run(const char* name, const char* sql, const Params& params) {
  if (std::find(prepared_.begin(), prepared_.end(), name) == prepared_.end()) {
    Result prepared(PQprepare(conn_, name, sql, 0, nullptr));
    if (!prepared.ok()) return prepared;
    prepared_.emplace_back(name);
  }
  const std::vector<const char*> values = params.values();
  const std::vector<int> lengths = params.lengths();
  return Result(PQexecPrepared(conn_, name, params.size(), values.data(), lengths.data(),
                               params.formats(), 1));
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
