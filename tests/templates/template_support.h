// Test helpers for template tests: a temporary directory to write templates into, and the path
// of the shipped templates.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "tests/common/temp_dir.h"

namespace mend::test {

inline std::filesystem::path shipped_templates_dir() {
  return std::filesystem::path(MEND_SOURCE_DIR) / "server" / "templates";
}

// A TempDir (tests/common/temp_dir.h) that template tests write template files into.
class TemplateDir : public mend::testing::TempDir {
 public:
  using TempDir::TempDir;

  // Writes `text` to the file `file_name` in this directory; its path.
  std::filesystem::path write(const std::string& file_name, std::string_view text) const {
    const std::filesystem::path file = path() / file_name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    return file;
  }

  // Copies every shipped template into this directory.
  void copy_shipped() const {
    for (const auto& entry : std::filesystem::directory_iterator(shipped_templates_dir())) {
      if (entry.path().extension() == ".textpb") {
        std::filesystem::copy_file(entry.path(), path() / entry.path().filename());
      }
    }
  }
};

// A sixth template, unknown to the code: two stages, a both-partner mirror round with
// "is there more?" and a validation, then a one-partner round without mirrors that ends
// with an apology response; problem solving on; a custom time-out default.
inline constexpr std::string_view kSixthTemplate = R"tmpl(# A template written by a test.
name: "gratitude-and-wish"
title: "Gratitude and a wish"
description: "Each of you shares a thank-you, then one of you shares a wish."
opening {
  intention_prompt: "Say why you want to talk."
  topic_prompt: "What is this about?"
}
stages {
  name: "gratitude"
  title: "A thank-you"
  speaker_prompt: "Share something you are grateful for."
  listener_prompt: "Say back what you heard."
  opener: PARTNER_B
  both_partners: true
  mirror_each_chunk: true
  more_loop: true
  turn_reflections: [VALIDATION]
  chunk_max_chars: 200
}
stages {
  name: "wish"
  title: "A wish"
  speaker_prompt: "Share one wish, and what you would like to be forgiven for."
  opener: PARTNER_A
  closer: APOLOGY_RESPONSE
}
problem_solving: true
closing { prompt: "Thank each other." }
timing {
  reflection_beat_ms: 500
  time_out_default_s: 1800
}
)tmpl";

}  // namespace mend::test
