// server/rooms/fifo.h: the queues of rooms and connections hold no memory while empty, and give
// back what a burst took once it is consumed.
#include "server/rooms/fifo.h"

#include <doctest/doctest.h>

#include <string>

namespace mend::rooms {
namespace {

TEST_CASE("a queue allocates nothing until its first push, and keeps its elements in order") {
  Fifo<std::string> queue;
  CHECK(queue.capacity() == 0);
  for (int i = 0; i < 5; ++i) queue.push_back(std::to_string(i));
  for (int i = 0; i < 5; ++i) {
    REQUIRE(!queue.empty());
    CHECK(queue.front() == std::to_string(i));
    pop_front(queue);
  }
  CHECK(queue.empty());
}

TEST_CASE("an emptied queue keeps room for a few elements, and a burst's space is freed once the "
          "queue is emptied or cleared") {
  Fifo<int> queue;
  for (int round = 0; round < 3; ++round) {  // steady use: its space is reused, not grown
    for (int i = 0; i < 4; ++i) queue.push_back(i);
    while (!queue.empty()) pop_front(queue);
    CHECK(queue.capacity() > 0);
    CHECK(queue.capacity() <= kFifoKeep);
  }
  for (int i = 0; i < 1000; ++i) queue.push_back(i);  // a burst
  CHECK(queue.capacity() >= 1000);
  for (int i = 0; i < 999; ++i) pop_front(queue);
  CHECK(queue.capacity() >= 1000);  // kept while elements are left
  CHECK(queue.front() == 999);
  pop_front(queue);
  CHECK(queue.empty());
  CHECK(queue.capacity() == 0);
  for (int i = 0; i < 1000; ++i) queue.push_back(i);  // another burst, dropped whole
  clear(queue);
  CHECK(queue.empty());
  CHECK(queue.capacity() == 0);
}

TEST_CASE("a queue pushed at the back and consumed at the front stays within its peak") {
  Fifo<int> queue;
  for (int i = 0; i < 10000; ++i) {  // one or two in flight at a time, for long
    queue.push_back(i);
    if (i % 2 == 1) {
      pop_front(queue);
      pop_front(queue);
    }
  }
  CHECK(queue.empty());
  CHECK(queue.capacity() <= kFifoKeep);
}

}  // namespace
}  // namespace mend::rooms
