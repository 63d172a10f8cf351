// PostgresStore for the store tests: one PostgreSQL cluster per test binary (started by
// pg_main.cpp), a fresh schema per store so that tests do not see each other's rooms.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "server/store/postgres_store.h"
#include "tests/common/pg_cluster.h"
#include "tests/common/temp_dir.h"

namespace mend::store::testing {

// The binary's cluster (pg_main.cpp); null only when PostgreSQL is not installed (the binary
// then runs no test).
mend::testing::PgCluster& cluster();

// A new empty schema; returns its name.
inline std::string fresh_schema() {
  static std::atomic<int> next{0};
  const std::string name = "t" + std::to_string(++next);
  cluster().sql("CREATE SCHEMA " + name);
  return name;
}

inline PostgresStoreOptions pg_options(const std::string& schema,
                                       const std::filesystem::path& key_dir) {
  PostgresStoreOptions options;
  options.url = cluster().url(schema);
  options.master_key_file = key_dir / "master.key";
  return options;
}

}  // namespace mend::store::testing

namespace mend::store::contract {

struct PostgresFixture {
  PostgresFixture() {
    auto opened =
        PostgresStore::open(testing::pg_options(testing::fresh_schema(), dir.path()));
    REQUIRE_MESSAGE(opened.store, opened.error->message);
    store = std::move(opened.store);
  }
  mend::testing::TempDir dir{"pg-key"};
  std::shared_ptr<Store> store;
};

}  // namespace mend::store::contract

TYPE_TO_STRING(mend::store::contract::PostgresFixture);
