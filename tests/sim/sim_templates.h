// Templates the simulation plays: a few in-code ones that exercise every template feature
// with tight timings, plus the shipped ones from server/templates/ when they exist.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mend/v1/template.pb.h"

namespace mend::sim {

// In-code templates (text format, parsed here). Each is valid per template.proto's rules.
std::vector<v1::Template> in_code_templates();

// Every `*.textpb` in `dir`, sorted by file name; parsed with Protobuf's text format.
// A file that does not parse is returned in `errors` as "path: reason".
std::vector<v1::Template> shipped_templates(const std::filesystem::path& dir,
                                            std::vector<std::string>& errors);

}  // namespace mend::sim
