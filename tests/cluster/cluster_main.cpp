// cluster_tests: starts one PostgreSQL for the whole binary; the three mendd nodes and HAProxy
// of the process-level tests start once too, on first use (cluster_test.cpp), and stop here
// before PostgreSQL. Skips every test with a message when PostgreSQL's server binaries or
// HAProxy are missing (tools/deps.sh installs both).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>

#include "tests/cluster/cluster_env.h"
#include "tests/cluster/nodes.h"

namespace {
std::unique_ptr<mend::testing::PgCluster> the_pg;
}  // namespace

mend::testing::PgCluster& mend::testing::pg() { return *the_pg; }

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const bool listing = context.shouldExit();  // --list-test-cases etc. need no cluster
  if (!listing) {
    if (mend::testing::PgCluster::binaries().empty() ||
        !std::filesystem::exists(mend::testing::kHaproxyPath)) {
      std::puts("cluster_tests: SKIPPED: PostgreSQL server binaries (/usr/lib/postgresql/<major>/"
                "bin) or HAProxy (/usr/sbin/haproxy) are not installed; tools/deps.sh installs "
                "them");
      return 77;  // CTest: skipped (SKIP_RETURN_CODE)
    }
    try {
      the_pg = std::make_unique<mend::testing::PgCluster>();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cluster_tests: cannot start PostgreSQL: %s\n", e.what());
      return 1;
    }
  }
  const int result = context.run();
  mend::testing::stop_nodes();
  the_pg.reset();
  return result;
}
