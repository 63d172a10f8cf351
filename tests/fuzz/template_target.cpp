// Fuzz target: the template text loader (DESIGN.md 4.2; server/engine/templates.h).
//
// Input: the text of a .textpb file. Properties:
//   - parse_template never crashes; it returns a template or errors, never both, never
//     neither; every error names a line within the text (or 0) and has a message;
//   - a template it returns passes validate, prints and parses back to an equal template, has
//     its resolved timing within the hard bounds, and makes a room whose views build and
//     whose first event replays.
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "server/engine/engine.h"
#include "server/engine/templates.h"
#include "server/engine/timing.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/sim/sim_commands.h"
#include "tests/sim/sim_templates.h"

namespace mend::fuzz {
namespace {

void check_timing(const v1::Template& tmpl) {
  using namespace engine::limits;
  const engine::ResolvedTiming t = engine::resolve_timing(tmpl.timing());
  require(t.reflection_beat_ms <= kReflectionBeatMs.bound, "beat within its bound");
  require(t.pause_default_s <= t.pause_max_s && t.pause_max_s <= kPauseMaxS.bound,
          "pause within its bounds");
  require(t.time_out_min_s >= kTimeOutMinS.floor && t.time_out_cap_s <= kTimeOutCapS.bound,
          "time-out within its bounds");
  require(t.time_out_min_s <= t.time_out_default_s && t.time_out_default_s <= t.time_out_cap_s,
          "time-out default within [minimum, cap]");
  require(t.appointment_window_s <= kAppointmentWindowS.bound, "window within its bound");
  require(t.consult_break_default_s <= t.consult_break_max_s &&
              t.consult_break_max_s <= kConsultBreakMaxS.bound,
          "break within its bounds");
  for (const auto& stage : tmpl.stages()) {
    require(engine::chunk_max_chars(stage) <= kChunkMaxChars.bound, "chunk within its bound");
  }
}

void check_room(const v1::Template& tmpl) {
  engine::RoomSetup setup;
  setup.partner_a_name = "Ana";
  setup.partner_b_name = "Ben";
  setup.observers = {"dr-lee"};
  const v1::Event created = engine::create_room(tmpl, setup, 1'800'000'000'000);
  engine::RoomState state;
  engine::evolve(state, created);
  require(state.last_seq == 1, "the room starts at seq 1");
  for (const auto& who : {sim::partner_a(), sim::partner_b(), sim::observer("dr-lee")}) {
    (void)engine::view(state, who);
  }
  (void)engine::next_deadline(state);
}

void check_template(const v1::Template& tmpl) {
  require(engine::validate(tmpl).empty(), "a loaded template passes validate");
  std::string printed;
  require(google::protobuf::TextFormat::PrintToString(tmpl, &printed), "a template prints");
  const auto again = engine::parse_template(printed, "printed", std::nullopt);
  require(again.tmpl.has_value(), "a printed template loads again");
  require(google::protobuf::util::MessageDifferencer::Equals(*again.tmpl, tmpl),
          "a printed template loads as an equal template");
  check_timing(tmpl);
  check_room(tmpl);
  require(engine::TemplateCatalog::from_templates({tmpl}).catalog.has_value(),
          "a loaded template makes a catalog");
}

}  // namespace

std::vector<std::string> seeds() {
  std::vector<std::string> out;
  std::vector<std::string> errors;
  for (const auto& tmpl : sim::in_code_templates(errors)) {
    std::string text;
    google::protobuf::TextFormat::PrintToString(tmpl, &text);
    out.push_back(text);
  }
  const std::filesystem::path dir = std::string(MEND_SOURCE_DIR) + "/server/templates";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  out.push_back("name: \"x\" title: \"X\" stages { name: \"s\" title: \"S\" speaker_prompt: \"p\" "
                "opener: PARTNER_A more_loop: true } timing { pause_max_s: 601 }");
  out.push_back("name: \"bad name\" stages { opener: 7 }\n title: ");
  out.push_back("timing { time_out_min_s: 4294967295 time_out_cap_s: 1 }");
  return out;
}

}  // namespace mend::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mend;
  const fuzz::QuietProtobuf quiet;
  const std::string_view text = fuzz::as_text(data, size);
  const auto parsed = engine::parse_template(text, "fuzz.textpb", std::nullopt);
  fuzz::require(parsed.tmpl.has_value() != !parsed.errors.empty(),
                "a template or errors, never both, never neither");
  const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto& error : parsed.errors) {
    fuzz::require(error.line >= 0 && error.line <= lines, "an error names a line of the text");
    fuzz::require(!error.message.empty(), "an error has a message");
    (void)error.to_string();
  }
  if (parsed.tmpl) fuzz::check_template(*parsed.tmpl);
  return 0;
}
