// What every fuzz target of tests/fuzz provides, and what it may use.
//
// A target defines libFuzzer's entry point and its seeds. Built with the `fuzz` preset it links
// libFuzzer's main (long runs, CI's bounded runs); in every other build it links
// corpus_main.cpp, which runs the committed corpus once as a CTest regression test and writes
// the seeds (`<target> --write-seeds DIR`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace mend::fuzz {

// The target's seed inputs, generated from code so they follow the formats they seed.
std::vector<std::string> seeds();

// A property the target checks failed: report `what` (never input content) and abort, which
// libFuzzer records as a crash with the input that caused it.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz property failed: %s\n", what);
  std::abort();
}

inline void require(bool condition, const char* what) {
  if (!condition) fail(what);
}

// Held for each input by targets that parse protobuf: protobuf logs a line per invalid UTF-8
// string field (mendd routes them to debug, app/logging.cpp); here they would only slow the
// fuzzer down and flood its output.
using QuietProtobuf = google::protobuf::LogSilencer;

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace mend::fuzz
