// A templates directory written by a test: the shipped templates, each adjusted (quicker
// timings, most often) before mendd loads them. Link mend_proto.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>

#include <google/protobuf/text_format.h>

#include "mend/v1/template.pb.h"
#include "tests/common/mendd_process.h"

namespace mend::testing {

// Writes every shipped template into `dir`, each after `adjust` changed it. Throws on a template
// that does not parse or print.
inline void write_shipped_templates(const std::filesystem::path& dir,
                                    const std::function<void(v1::Template&)>& adjust) {
  for (const auto& entry : std::filesystem::directory_iterator(shipped_templates_dir())) {
    if (entry.path().extension() != ".textpb") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    v1::Template tmpl;
    std::string out;
    if (!google::protobuf::TextFormat::ParseFromString(text.str(), &tmpl)) {
      throw std::runtime_error("cannot parse " + entry.path().string());
    }
    adjust(tmpl);
    if (!google::protobuf::TextFormat::PrintToString(tmpl, &out)) {
      throw std::runtime_error("cannot print " + entry.path().string());
    }
    std::ofstream(dir / entry.path().filename()) << out;
  }
}

}  // namespace mend::testing
