// --rooms-per-api-key counts the rooms the store holds, so a restart does not start it over.
#include <doctest/doctest.h>

#include "tests/common/mendd_process.h"
#include "tests/hardening/raw_http.h"

namespace mend::testing {
namespace {

int create_room(int port) {
  return raw_exchange(port, create_room_request(port, "Content-Type: application/json\r\n"))
      .status();
}

TEST_CASE("the room quota of a creator still holds after a restart") {
  TempDir dir("quota");
  MenddProcess mendd({"--data-dir", dir.path().string(), "--templates-dir",
                      shipped_templates_dir(), "--rooms-per-api-key", "3"});
  mendd.start(0);
  for (int i = 0; i < 3; ++i) CHECK(create_room(mendd.port()) == 201);
  CHECK(create_room(mendd.port()) == 429);
  REQUIRE(mendd.terminate() == 0);
  mendd.start(0);
  const RawAnswer after =
      raw_exchange(mendd.port(), create_room_request(mendd.port(),
                                                     "Content-Type: application/json\r\n"));
  CHECK(after.status() == 429);
  CHECK(after.has(R"("code":"ROOM_QUOTA_EXCEEDED")"));
}

}  // namespace
}  // namespace mend::testing
