// A queue consumed from the front, for the queues every room and connection keeps.
//
// Not std::deque: libstdc++'s allocates its map and a first 512-byte node (about 600 bytes) as soon
// as one is constructed, so every idle connection and loaded room would pay for its empty queues. A
// devector allocates at its first push and, consumed from the front, reuses its space (it moves the
// elements left back to the middle instead of growing). Unlike a deque it keeps the space a burst
// took (a replay's frames, a queue of commands), so pop_front() and clear() below give it back once
// the queue is empty. Push only at the back: the debug assertion in Boost 1.81's
// devector::push_front is wrong (boostorg/container#285).
#pragma once

#include <cstddef>

#include <boost/container/devector.hpp>

namespace mend::rooms {

template <class T>
using Fifo = boost::container::devector<T>;

// Elements' worth of space an empty queue keeps (a few frames or commands in flight at a time).
inline constexpr std::size_t kFifoKeep = 16;

// Removes the front element; once the queue is empty, frees the space of a burst beyond
// kFifoKeep elements. Precondition: !queue.empty().
template <class T>
void pop_front(Fifo<T>& queue) {
  queue.pop_front();
  if (queue.empty() && queue.capacity() > kFifoKeep) queue = Fifo<T>();
}

// Removes every element and gives back all the space (a devector's own clear() keeps it).
template <class T>
void clear(Fifo<T>& queue) {
  queue = Fifo<T>();
}

}  // namespace mend::rooms
