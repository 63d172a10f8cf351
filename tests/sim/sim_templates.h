// Templates the simulation plays: a few in-code ones that exercise every template feature
// with tight timings, plus the shipped ones from server/templates/ when they exist.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mend/v1/template.pb.h"

namespace mend::sim {

// In-code templates (text format), parsed and validated by the engine's template loader;
// loader errors are appended to `errors`.
std::vector<v1::Template> in_code_templates(std::vector<std::string>& errors);

// Every `*.textpb` in `dir`, sorted by file name, loaded and validated with
// engine::load_template_file; its errors ("path:line: field: message") go to `errors`.
std::vector<v1::Template> shipped_templates(const std::filesystem::path& dir,
                                            std::vector<std::string>& errors);

}  // namespace mend::sim
