// Helpers shared by the room service tests (tests/rooms) and the lease tests (tests/cluster):
// the shipped templates and commands written as protobuf text. Header-only; the including test
// binary defines MEND_SOURCE_DIR (mend_add_test does).
#pragma once

#include <string>
#include <utility>

#include <doctest/doctest.h>
#include <google/protobuf/text_format.h>

#include "mend/v1/frames.pb.h"
#include "server/engine/templates.h"

namespace mend::rooms {

// The templates of server/templates (REQUIREd to load).
inline engine::TemplateCatalog catalog() {
  auto loaded = engine::TemplateCatalog::load(std::string(MEND_SOURCE_DIR) + "/server/templates");
  REQUIRE(loaded.catalog.has_value());
  return std::move(*loaded.catalog);
}

// A command with `id`, its body in protobuf text format, e.g. "consent {}".
inline v1::Command command(const std::string& id, const std::string& text) {
  v1::Command cmd;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(text, &cmd));
  cmd.set_command_id(id);
  return cmd;
}

}  // namespace mend::rooms
