// A test case that cannot run on this machine (a tool or a privilege it needs is missing) says
// so with skip_test() and returns: the line it prints makes CTest count the test as skipped,
// not passed (tests/CMakeLists.txt gives every doctest test SKIP_REGULAR_EXPRESSION
// "SKIPPED: "), while running the executable by hand still runs its other test cases.
// Thread safety: call it from the test case's own thread.
#pragma once

#include <cstdio>
#include <string_view>

namespace mend::testing {

inline void skip_test(std::string_view why) {
  std::printf("SKIPPED: %.*s\n", static_cast<int>(why.size()), why.data());
  std::fflush(stdout);
}

}  // namespace mend::testing
