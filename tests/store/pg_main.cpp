// postgres_store_tests: starts one PostgreSQL cluster for the whole binary, or skips every
// test with a message when PostgreSQL is not installed (tools/deps.sh installs it).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <exception>
#include <memory>

#include "pg_fixture.h"

namespace {
std::unique_ptr<mend::testing::PgCluster> the_cluster;
}  // namespace

mend::testing::PgCluster& mend::store::testing::cluster() { return *the_cluster; }

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const bool listing = context.shouldExit();  // --list-test-cases etc. need no cluster
  if (!listing) {
    if (mend::testing::PgCluster::binaries().empty()) {
      std::puts("postgres_store_tests: SKIPPED: PostgreSQL server binaries are not installed "
                "(/usr/lib/postgresql/<major>/bin; tools/deps.sh installs them)");
      return 77;  // CTest: skipped (SKIP_RETURN_CODE)
    }
    try {
      the_cluster = std::make_unique<mend::testing::PgCluster>();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "postgres_store_tests: cannot start PostgreSQL: %s\n", e.what());
      return 1;
    }
  }
  const int result = context.run();
  the_cluster.reset();
  return result;
}
