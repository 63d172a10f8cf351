// What every test of cluster_tests shares: ONE throwaway PostgreSQL for the whole binary
// (cluster_main.cpp starts it, or the binary prints SKIPPED when PostgreSQL, HAProxy or mendd
// is missing), a fresh schema per test that wants its own database.
#pragma once

#include <atomic>
#include <string>

#include "tests/common/pg_cluster.h"

namespace mend::testing {

// The binary's PostgreSQL (started before any test runs).
PgCluster& pg();

// A new empty schema in pg(); returns its name.
inline std::string fresh_schema() {
  static std::atomic<int> next{0};
  const std::string name = "cluster" + std::to_string(++next);
  pg().sql("CREATE SCHEMA " + name);
  return name;
}

}  // namespace mend::testing
