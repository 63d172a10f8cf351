// Test helpers for template tests: a temporary directory removed at scope exit, file
// writing, and the path of the shipped templates.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace mend::test {

inline std::filesystem::path shipped_templates_dir() {
  return std::filesystem::path(MEND_SOURCE_DIR) / "server" / "templates";
}

// A fresh directory under the system temp directory, unique per process and instance,
// removed with everything in it when this object goes out of scope.
class TempDir {
 public:
  explicit TempDir(std::string_view label) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("mend-" + std::string(label) + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  std::filesystem::path write(const std::string& file_name, std::string_view text) const {
    const std::filesystem::path file = path_ / file_name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    return file;
  }

  // Copies every shipped template into this directory.
  void copy_shipped() const {
    for (const auto& entry : std::filesystem::directory_iterator(shipped_templates_dir())) {
      if (entry.path().extension() == ".textpb") {
        std::filesystem::copy_file(entry.path(), path_ / entry.path().filename());
      }
    }
  }

 private:
  std::filesystem::path path_;
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
