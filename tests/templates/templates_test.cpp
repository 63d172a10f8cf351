// Template loading and validation (DESIGN.md 4.2): the shipped templates are valid, every
// broken rule is reported with its file, line and field, and a new template file loads with
// no code change.
#include "server/engine/templates.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/templates/template_support.h"

namespace {

using mend::engine::TemplateCatalog;
using mend::engine::TemplateError;
using mend::test::TemplateDir;

const std::vector<std::string> kShipped = {"aftermath-of-a-fight", "dreams-within-conflict",
                                           "imago-dialogue", "speaker-listener",
                                           "stress-reducing-talk"};

// A small valid template; tests break one thing in it. Line numbers are found by content.
const std::string kTiny =
    "name: \"tiny\"\n"                   // 1
    "title: \"Tiny\"\n"                  // 2
    "stages {\n"                         // 3
    "  name: \"one\"\n"                  // 4
    "  title: \"One\"\n"                 // 5
    "  speaker_prompt: \"Say it.\"\n"    // 6
    "  opener: PARTNER_A\n"              // 7
    "  mirror_each_chunk: true\n"        // 8
    "}\n"                                // 9
    "stages {\n"                         // 10
    "  name: \"two\"\n"                  // 11
    "  title: \"Two\"\n"                 // 12
    "  speaker_prompt: \"Say more.\"\n"  // 13
    "  opener: PARTNER_B\n"              // 14
    "}\n"                                // 15
    "timing {\n"                         // 16
    "  pause_max_s: 300\n"               // 17
    "}\n";                               // 18

// 1-based line of the first line containing `needle`; 0 when absent.
int line_of(const std::string& text, const std::string& needle) {
  int line = 1;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string row = text.substr(start, end == std::string::npos ? end : end - start);
    if (row.find(needle) != std::string::npos) return line;
    if (end == std::string::npos) break;
    start = end + 1;
    ++line;
  }
  return 0;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Writes `text` as tiny.textpb into a fresh directory, loads the directory, and returns the
// errors (which must not be empty).
std::vector<TemplateError> load_errors(const std::string& text,
                                       const std::string& file_name = "tiny.textpb") {
  TemplateDir dir("tmpl");
  dir.write(file_name, text);
  TemplateCatalog::LoadResult result = TemplateCatalog::load(dir.path());
  CHECK_FALSE(result.catalog.has_value());
  REQUIRE_FALSE(result.errors.empty());
  for (TemplateError& e : result.errors) {
    // Paths differ per run; keep only the file name for the assertions below.
    e.file = std::filesystem::path(e.file).filename().string();
  }
  return result.errors;
}

// Asserts that exactly one error was found and that it names file, line and field.
void check_one_error(const std::vector<TemplateError>& errors, int line, const std::string& field,
                     const std::string& message_part = "") {
  REQUIRE(errors.size() == 1);
  const TemplateError& e = errors.front();
  INFO(e.to_string());
  CHECK(e.file == "tiny.textpb");
  CHECK(e.line == line);
  CHECK(e.field == field);
  if (!message_part.empty()) CHECK(e.message.find(message_part) != std::string::npos);
}

}  // namespace

TEST_CASE("the small template used by these tests is valid") {
  TemplateDir dir("tiny");
  dir.write("tiny.textpb", kTiny);
  const TemplateCatalog::LoadResult result = TemplateCatalog::load(dir.path());
  for (const TemplateError& e : result.errors) FAIL(e.to_string());
  REQUIRE(result.catalog.has_value());
  CHECK(result.catalog->find("tiny") != nullptr);
}

TEST_CASE("all five shipped templates load and validate") {
  const TemplateCatalog::LoadResult result =
      TemplateCatalog::load(mend::test::shipped_templates_dir());
  for (const TemplateError& e : result.errors) FAIL(e.to_string());
  REQUIRE(result.catalog.has_value());
  CHECK(result.catalog->size() == kShipped.size());
  for (const std::string& name : kShipped) {
    INFO(name);
    const mend::v1::Template* tmpl = result.catalog->find(name);
    REQUIRE(tmpl != nullptr);
    CHECK(tmpl->name() == name);
    CHECK(mend::engine::validate(*tmpl).empty());
  }
}

TEST_CASE("shipped templates have the structure DESIGN.md 4.2 describes") {
  const TemplateCatalog::LoadResult result =
      TemplateCatalog::load(mend::test::shipped_templates_dir());
  REQUIRE(result.catalog.has_value());
  const TemplateCatalog& catalog = *result.catalog;

  SUBCASE("speaker-listener: paraphrase or ask for an example, the floor goes back and forth, "
          "either partner opens, problem solving on") {
    const mend::v1::Template& t = *catalog.find("speaker-listener");
    REQUIRE(t.stages_size() == 1);
    CHECK(t.opening().either_partner_opens());
    CHECK(t.stages(0).mirror_each_chunk());
    CHECK(t.stages(0).listener_may_clarify());
    CHECK(t.stages(0).both_partners());
    CHECK(t.stages(0).until_both_move_on());
    CHECK(t.problem_solving());
  }
  SUBCASE("imago-dialogue: appointment, more loop, summary, validation, empathy, switch") {
    const mend::v1::Template& t = *catalog.find("imago-dialogue");
    CHECK(t.opening().appointment());
    REQUIRE(t.stages_size() == 1);
    const mend::v1::Stage& s = t.stages(0);
    CHECK(s.mirror_each_chunk());
    CHECK(s.more_loop());
    CHECK(s.both_partners());
    REQUIRE(s.turn_reflections_size() == 3);
    CHECK(s.turn_reflections(0) == mend::v1::SUMMARY);
    CHECK(s.turn_reflections(1) == mend::v1::VALIDATION);
    CHECK(s.turn_reflections(2) == mend::v1::EMPATHY);
    CHECK_FALSE(t.closing().prompt().empty());
  }
  SUBCASE("aftermath-of-a-fight: five Gottman stages in order, apology response closes step 4") {
    const mend::v1::Template& t = *catalog.find("aftermath-of-a-fight");
    std::vector<std::string> names;
    for (const auto& s : t.stages()) names.push_back(s.name());
    CHECK(names == std::vector<std::string>{"feelings", "realities", "triggers", "responsibility",
                                            "constructive-plans"});
    CHECK(t.stages(1).turn_reflections_size() == 2);
    CHECK(t.stages(3).closer() == mend::v1::APOLOGY_RESPONSE);
  }
  SUBCASE("stress-reducing-talk: 15-minute soft turns, questions, understanding once a turn, "
          "advice on request") {
    const mend::v1::Stage& s = catalog.find("stress-reducing-talk")->stages(0);
    CHECK(s.soft_turn_s() == 900);
    CHECK_FALSE(s.mirror_each_chunk());
    REQUIRE(s.turn_reflections_size() == 1);
    CHECK(s.turn_reflections(0) == mend::v1::EMPATHY);
    CHECK(s.advice_on_request());
    CHECK(s.listener_may_ask());
    CHECK(s.listener_prompt().find("Take your partner's side") != std::string::npos);
  }
  SUBCASE("dreams-within-conflict: 15-minute roles, dream questions, no problem solving") {
    const mend::v1::Template& t = *catalog.find("dreams-within-conflict");
    const mend::v1::Stage& s = t.stages(0);
    CHECK(s.soft_turn_s() == 900);
    CHECK(s.listener_may_ask());
    CHECK(s.listener_questions_size() >= 5);
    CHECK(s.both_partners());
    CHECK_FALSE(t.problem_solving());
  }
}

TEST_CASE("the template list summarizes every template, ordered by name") {
  const TemplateCatalog::LoadResult result =
      TemplateCatalog::load(mend::test::shipped_templates_dir());
  REQUIRE(result.catalog.has_value());
  const std::vector<mend::v1::TemplateSummary> list = result.catalog->list();
  REQUIRE(list.size() == kShipped.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    CHECK(list[i].name() == kShipped[i]);
    CHECK_FALSE(list[i].title().empty());
    CHECK_FALSE(list[i].description().empty());
    CHECK(list[i].stages_size() == result.catalog->find(kShipped[i])->stages_size());
  }
  CHECK(list[3].problem_solving());  // speaker-listener
  CHECK(list[0].stages(0) == "Feelings");
}

TEST_CASE("an unknown template name is not found") {
  const TemplateCatalog::LoadResult result =
      TemplateCatalog::load(mend::test::shipped_templates_dir());
  REQUIRE(result.catalog.has_value());
  CHECK(result.catalog->find("no-such-template") == nullptr);
  CHECK(result.catalog->find("") == nullptr);
}

TEST_CASE("a sixth template file loads with no code change") {
  TemplateDir dir("sixth");
  dir.copy_shipped();
  dir.write("gratitude-and-wish.textpb", mend::test::kSixthTemplate);
  const TemplateCatalog::LoadResult result = TemplateCatalog::load(dir.path());
  for (const TemplateError& e : result.errors) FAIL(e.to_string());
  REQUIRE(result.catalog.has_value());
  CHECK(result.catalog->size() == 6);
  const mend::v1::Template* sixth = result.catalog->find("gratitude-and-wish");
  REQUIRE(sixth != nullptr);
  CHECK(sixth->stages_size() == 2);
  CHECK(sixth->timing().time_out_default_s() == 1800);
}

// --- Syntax errors --------------------------------------------------------------------------

TEST_CASE("a syntax error names the file, the line and the field being read") {
  const std::string text = replaced(kTiny, "  opener: PARTNER_B\n", "  opener PARTNER_B\n");
  check_one_error(load_errors(text), line_of(text, "opener PARTNER_B"), "stages[1].opener",
                  "syntax");
}

TEST_CASE("an unterminated message names the line where the text ends") {
  const std::string text =
      replaced(kTiny, "timing {\n  pause_max_s: 300\n}\n", "timing {\n  pause_max_s: 300\n");
  const std::vector<TemplateError> errors = load_errors(text);
  REQUIRE_FALSE(errors.empty());
  CHECK(errors.front().file == "tiny.textpb");
  CHECK(errors.front().line >= line_of(text, "pause_max_s"));
  CHECK(errors.front().field.rfind("timing", 0) == 0);
}

TEST_CASE("an unknown field is an error naming it") {
  const std::string text =
      replaced(kTiny, "  title: \"Two\"\n", "  title: \"Two\"\n  colour: \"blue\"\n");
  check_one_error(load_errors(text), line_of(text, "colour"), "stages[1].colour", "colour");
}

TEST_CASE("an unknown top-level field is an error naming it") {
  const std::string text = replaced(kTiny, "title: \"Tiny\"\n", "title: \"Tiny\"\nlevel: 3\n");
  check_one_error(load_errors(text), line_of(text, "level: 3"), "level");
}

TEST_CASE("an unknown enum value is an error naming the field") {
  const std::string text = replaced(kTiny, "opener: PARTNER_A", "opener: PARTNER_C");
  check_one_error(load_errors(text), line_of(text, "PARTNER_C"), "stages[0].opener", "PARTNER_C");
}

TEST_CASE("a field given twice is an error naming it") {
  const std::string text =
      replaced(kTiny, "  pause_max_s: 300\n", "  pause_max_s: 300\n  pause_max_s: 400\n");
  check_one_error(load_errors(text), line_of(text, "pause_max_s: 400"), "timing.pause_max_s");
}

// --- Semantic rules -------------------------------------------------------------------------

TEST_CASE("a name that is not [a-z0-9-]{1,64} is rejected at its line") {
  SUBCASE("uppercase and underscore") {
    const std::string text = replaced(kTiny, "name: \"tiny\"", "name: \"Tiny_One\"");
    const std::vector<TemplateError> errors = load_errors(text, "Tiny_One.textpb");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].file == "Tiny_One.textpb");
    CHECK(errors[0].line == 1);
    CHECK(errors[0].field == "name");
  }
  SUBCASE("longer than 64") {
    const std::string long_name(65, 'a');
    const std::string text = replaced(kTiny, "name: \"tiny\"", "name: \"" + long_name + "\"");
    const std::vector<TemplateError> errors = load_errors(text, long_name + ".textpb");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].line == 1);
    CHECK(errors[0].field == "name");
  }
}

TEST_CASE("the name must equal the file name") {
  const std::string text = "# leading comment\n" + replaced(kTiny, "\"tiny\"", "\"other\"");
  check_one_error(load_errors(text), 2, "name", "file name");
}

TEST_CASE("a missing name is reported at line 1") {
  const std::string text = replaced(kTiny, "name: \"tiny\"\n", "");
  check_one_error(load_errors(text), 1, "name", "required");
}

TEST_CASE("a missing title is reported at line 1") {
  const std::string text = replaced(kTiny, "title: \"Tiny\"\n", "");
  check_one_error(load_errors(text), 1, "title", "required");
}

TEST_CASE("a template without stages is rejected") {
  const std::string text = "name: \"tiny\"\ntitle: \"Tiny\"\n";
  check_one_error(load_errors(text), 1, "stages", "at least one stage");
}

TEST_CASE("a stage without an opener is reported at the line of its stage") {
  const std::string text = replaced(kTiny, "  opener: PARTNER_B\n", "");
  check_one_error(load_errors(text), 10, "stages[1].opener", "PARTNER_A or PARTNER_B");
}

TEST_CASE("an observer cannot open a stage") {
  const std::string text = replaced(kTiny, "opener: PARTNER_B", "opener: OBSERVER");
  check_one_error(load_errors(text), line_of(text, "OBSERVER"), "stages[1].opener");
}

TEST_CASE("stage names are unique") {
  const std::string text = replaced(kTiny, "name: \"two\"", "name: \"one\"");
  check_one_error(load_errors(text), 11, "stages[1].name", "unique");
}

TEST_CASE("stage names are well-formed") {
  const std::string text = replaced(kTiny, "name: \"two\"", "name: \"Step 2\"");
  check_one_error(load_errors(text), 11, "stages[1].name", "[a-z0-9-]");
}

TEST_CASE("a stage needs a speaker prompt") {
  const std::string text =
      replaced(kTiny, "  speaker_prompt: \"Say more.\"\n", "  speaker_prompt: \"   \"\n");
  check_one_error(load_errors(text), 13, "stages[1].speaker_prompt", "blank");
}

TEST_CASE("more_loop without mirror_each_chunk is rejected") {
  const std::string text =
      replaced(kTiny, "  opener: PARTNER_B\n", "  opener: PARTNER_B\n  more_loop: true\n");
  check_one_error(load_errors(text), line_of(text, "more_loop"), "stages[1].more_loop",
                  "mirror_each_chunk");
}

TEST_CASE("a floor that goes back and forth until both move on needs both partners") {
  const std::string text =
      replaced(kTiny, "  opener: PARTNER_B\n", "  opener: PARTNER_B\n  until_both_move_on: true\n");
  check_one_error(load_errors(text), line_of(text, "until_both_move_on"),
                  "stages[1].until_both_move_on", "both_partners");
}

TEST_CASE("asking for clarification in place of a mirror needs mirror_each_chunk") {
  const std::string text = replaced(kTiny, "  opener: PARTNER_B\n",
                                    "  opener: PARTNER_B\n  listener_may_clarify: true\n");
  check_one_error(load_errors(text), line_of(text, "listener_may_clarify"),
                  "stages[1].listener_may_clarify", "mirror_each_chunk");
}

TEST_CASE("MIRROR is not a turn reflection") {
  const std::string text = replaced(
      kTiny, "  mirror_each_chunk: true\n",
      "  mirror_each_chunk: true\n  more_loop: true\n  turn_reflections: [SUMMARY, MIRROR]\n");
  check_one_error(load_errors(text), line_of(text, "turn_reflections"),
                  "stages[0].turn_reflections[1]", "SUMMARY, VALIDATION and EMPATHY");
}

TEST_CASE("a turn reflection is listed at most once") {
  const std::string text = replaced(kTiny, "  mirror_each_chunk: true\n",
                                    "  mirror_each_chunk: true\n  more_loop: true\n"
                                    "  turn_reflections: VALIDATION\n"
                                    "  turn_reflections: EMPATHY\n"
                                    "  turn_reflections: VALIDATION\n");
  check_one_error(load_errors(text), 12, "stages[0].turn_reflections[2]", "twice");
}

TEST_CASE("turn reflections that no turn can reach are rejected") {
  SUBCASE("reflections after mirrors without \"is there more?\"") {
    const std::string text = replaced(kTiny, "  mirror_each_chunk: true\n",
                                      "  mirror_each_chunk: true\n  turn_reflections: SUMMARY\n");
    check_one_error(load_errors(text), line_of(text, "turn_reflections"),
                    "stages[0].turn_reflections[0]", "more_loop");
  }
  SUBCASE("an apology response after mirrors without \"is there more?\"") {
    const std::string text = replaced(kTiny, "  mirror_each_chunk: true\n",
                                      "  mirror_each_chunk: true\n  closer: APOLOGY_RESPONSE\n");
    check_one_error(load_errors(text), line_of(text, "closer"), "stages[0].closer", "more_loop");
  }
}

TEST_CASE("a chunk limit above 16000 characters is rejected") {
  const std::string text = replaced(kTiny, "  mirror_each_chunk: true\n",
                                    "  mirror_each_chunk: true\n  chunk_max_chars: 16001\n");
  check_one_error(load_errors(text), line_of(text, "chunk_max_chars"), "stages[0].chunk_max_chars",
                  "16000");
}

TEST_CASE("a chunk limit of exactly 16000 characters is accepted") {
  TemplateDir dir("chunk");
  dir.write("tiny.textpb", replaced(kTiny, "  mirror_each_chunk: true\n",
                                    "  mirror_each_chunk: true\n  chunk_max_chars: 16000\n"));
  CHECK(TemplateCatalog::load(dir.path()).errors.empty());
}

TEST_CASE("listener questions need listener_may_ask") {
  const std::string text = replaced(kTiny, "  opener: PARTNER_B\n",
                                    "  opener: PARTNER_B\n  listener_questions: \"Why?\"\n");
  check_one_error(load_errors(text), line_of(text, "listener_questions"),
                  "stages[1].listener_questions[0]", "listener_may_ask");
}

TEST_CASE("a time-out floor below 20 minutes is rejected") {
  const std::string text =
      replaced(kTiny, "  pause_max_s: 300\n", "  pause_max_s: 300\n  time_out_min_s: 600\n");
  check_one_error(load_errors(text), line_of(text, "time_out_min_s"), "timing.time_out_min_s",
                  "1200");
}

TEST_CASE("a time-out cap above 24 hours is rejected") {
  const std::string text =
      replaced(kTiny, "  pause_max_s: 300\n", "  pause_max_s: 300\n  time_out_cap_s: 86401\n");
  check_one_error(load_errors(text), line_of(text, "time_out_cap_s"), "timing.time_out_cap_s",
                  "86400");
}

TEST_CASE("a time-out default outside [min, cap] is rejected") {
  SUBCASE("below the minimum") {
    const std::string text = replaced(kTiny, "  pause_max_s: 300\n",
                                      "  pause_max_s: 300\n  time_out_min_s: 3600\n"
                                      "  time_out_default_s: 1800\n");
    check_one_error(load_errors(text), line_of(text, "time_out_default_s"),
                    "timing.time_out_default_s");
  }
  SUBCASE("above the cap") {
    const std::string text = replaced(kTiny, "  pause_max_s: 300\n",
                                      "  pause_max_s: 300\n  time_out_cap_s: 7200\n"
                                      "  time_out_default_s: 7201\n");
    check_one_error(load_errors(text), line_of(text, "time_out_default_s"),
                    "timing.time_out_default_s");
  }
}

TEST_CASE("a time-out cap below the minimum is rejected") {
  const std::string text = replaced(kTiny, "  pause_max_s: 300\n",
                                    "  pause_max_s: 300\n  time_out_min_s: 7200\n"
                                    "  time_out_cap_s: 3600\n");
  check_one_error(load_errors(text), line_of(text, "time_out_cap_s"), "timing.time_out_cap_s");
}

TEST_CASE("a short pause lasts at most 10 minutes") {
  const std::string text = replaced(kTiny, "pause_max_s: 300", "pause_max_s: 601");
  check_one_error(load_errors(text), 17, "timing.pause_max_s", "600");
}

TEST_CASE("the default pause must fit within the maximum pause") {
  SUBCASE("explicit default") {
    const std::string text =
        replaced(kTiny, "  pause_max_s: 300\n", "  pause_max_s: 300\n  pause_default_s: 301\n");
    check_one_error(load_errors(text), 18, "timing.pause_default_s");
  }
  SUBCASE("implicit default of 120 s") {
    const std::string text = replaced(kTiny, "pause_max_s: 300", "pause_max_s: 60");
    check_one_error(load_errors(text), 17, "timing.pause_max_s", "120");
  }
}

TEST_CASE("the reflection beat is at most one minute") {
  const std::string text =
      replaced(kTiny, "  pause_max_s: 300\n", "  pause_max_s: 300\n  reflection_beat_ms: 60001\n");
  check_one_error(load_errors(text), 18, "timing.reflection_beat_ms", "60000");
}

TEST_CASE("the appointment window and consultation breaks are bounded") {
  SUBCASE("appointment window over a week") {
    const std::string text = replaced(kTiny, "  pause_max_s: 300\n",
                                      "  pause_max_s: 300\n  appointment_window_s: 700000\n");
    check_one_error(load_errors(text), 18, "timing.appointment_window_s");
  }
  SUBCASE("consultation break over an hour") {
    const std::string text = replaced(kTiny, "  pause_max_s: 300\n",
                                      "  pause_max_s: 300\n  consult_break_max_s: 3601\n");
    check_one_error(load_errors(text), 18, "timing.consult_break_max_s");
  }
  SUBCASE("default consultation break over the maximum") {
    const std::string text = replaced(kTiny, "  pause_max_s: 300\n",
                                      "  pause_max_s: 300\n  consult_break_max_s: 600\n"
                                      "  consult_break_default_s: 900\n");
    check_one_error(load_errors(text), 19, "timing.consult_break_default_s");
  }
}

TEST_CASE("every broken rule of a file is reported, in field order") {
  std::string text = replaced(kTiny, "title: \"Tiny\"\n", "");
  text = replaced(text, "  opener: PARTNER_B\n", "  opener: PARTNER_B\n  more_loop: true\n");
  text = replaced(text, "pause_max_s: 300", "pause_max_s: 900");
  const std::vector<TemplateError> errors = load_errors(text);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].field == "title");
  CHECK(errors[1].field == "stages[1].more_loop");
  CHECK(errors[1].line == line_of(text, "more_loop"));
  CHECK(errors[2].field == "timing.pause_max_s");
  CHECK(errors[2].line == line_of(text, "pause_max_s"));
}

// --- Catalog ----------------------------------------------------------------------------------

TEST_CASE("one invalid file fails the whole catalog and is named") {
  TemplateDir dir("mixed");
  dir.copy_shipped();
  dir.write("tiny.textpb", replaced(kTiny, "opener: PARTNER_A", "opener: ROLE_UNSPECIFIED"));
  const TemplateCatalog::LoadResult result = TemplateCatalog::load(dir.path());
  CHECK_FALSE(result.catalog.has_value());
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].file == (dir.path() / "tiny.textpb").string());
  CHECK(result.errors[0].line == 7);
  CHECK(result.errors[0].field == "stages[0].opener");
}

TEST_CASE("files that are not *.textpb are ignored") {
  TemplateDir dir("other-files");
  dir.write("tiny.textpb", kTiny);
  dir.write("README.md", "not a template");
  dir.write("tiny.textpb.bak", "garbage {");
  const TemplateCatalog::LoadResult result = TemplateCatalog::load(dir.path());
  CHECK(result.errors.empty());
  REQUIRE(result.catalog.has_value());
  CHECK(result.catalog->size() == 1);
}

TEST_CASE("an empty or missing templates directory is an error naming it") {
  TemplateDir dir("empty");
  const TemplateCatalog::LoadResult empty = TemplateCatalog::load(dir.path());
  CHECK_FALSE(empty.catalog.has_value());
  REQUIRE(empty.errors.size() == 1);
  CHECK(empty.errors[0].file == dir.path().string());

  const TemplateCatalog::LoadResult missing = TemplateCatalog::load(dir.path() / "nope");
  CHECK_FALSE(missing.catalog.has_value());
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].file == (dir.path() / "nope").string());
}

// --- validate() for templates from other sources -----------------------------------------------

TEST_CASE("validate reports fields of an in-memory template without file or line") {
  mend::v1::Template tmpl;
  tmpl.set_name("in-memory");
  tmpl.set_title("In memory");
  mend::v1::Stage* stage = tmpl.add_stages();
  stage->set_name("only");
  stage->set_title("Only");
  stage->set_speaker_prompt("Speak.");
  stage->set_opener(mend::v1::PARTNER_A);
  CHECK(mend::engine::validate(tmpl).empty());

  stage->set_more_loop(true);
  tmpl.mutable_timing()->set_time_out_min_s(60);
  const std::vector<TemplateError> errors = mend::engine::validate(tmpl);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0] == TemplateError{"", 0, "stages[0].more_loop", errors[0].message});
  CHECK(errors[1].field == "timing.time_out_min_s");
  CHECK(errors[1].to_string() == "timing.time_out_min_s: " + errors[1].message);
}

TEST_CASE("validate rejects enum values the schema does not know") {
  mend::v1::Template tmpl;
  tmpl.set_name("numbers");
  tmpl.set_title("Numbers");
  mend::v1::Stage* stage = tmpl.add_stages();
  stage->set_name("only");
  stage->set_title("Only");
  stage->set_speaker_prompt("Speak.");
  stage->set_opener(mend::v1::PARTNER_A);
  stage->set_closer(static_cast<mend::v1::StageCloser>(9));
  stage->add_turn_reflections(static_cast<mend::v1::ReflectionKind>(42));
  const std::vector<TemplateError> errors = mend::engine::validate(tmpl);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].field == "stages[0].turn_reflections[0]");
  CHECK(errors[1].field == "stages[0].closer");
}

TEST_CASE("from_templates builds a catalog of valid templates with unique names") {
  const TemplateCatalog::LoadResult shipped =
      TemplateCatalog::load(mend::test::shipped_templates_dir());
  REQUIRE(shipped.catalog.has_value());
  const mend::v1::Template& one = *shipped.catalog->find("imago-dialogue");
  const TemplateCatalog::LoadResult ok = TemplateCatalog::from_templates({one});
  REQUIRE(ok.catalog.has_value());
  CHECK(ok.catalog->find("imago-dialogue") != nullptr);
  const TemplateCatalog::LoadResult twice = TemplateCatalog::from_templates({one, one});
  CHECK_FALSE(twice.catalog.has_value());
  REQUIRE(twice.errors.size() == 1);
  CHECK(twice.errors[0].field == "name");
}

TEST_CASE("an error prints as path:line: field: message") {
  const TemplateError e{"server/templates/x.textpb", 12, "stages[1].more_loop", "needs a mirror"};
  CHECK(e.to_string() == "server/templates/x.textpb:12: stages[1].more_loop: needs a mirror");
  const TemplateError no_line{"dir", 0, "", "holds no template"};
  CHECK(no_line.to_string() == "dir: holds no template");
}
