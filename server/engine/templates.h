// Conversation templates: loading and validation (DESIGN.md section 4.2,
// proto/mend/v1/template.proto).
//
// A template is a text-format `mend.v1.Template` in `<dir>/<name>.textpb`. The server loads
// every such file at start into a TemplateCatalog and refuses to start when any is invalid;
// every error names the file, the line and the field. Adding a template needs no code change.
//
// Validation rules (each broken rule is one TemplateError); every number is a bound of the
// table in limits.h (`limits::k...`), named here by its entry:
// - name: [a-z0-9-], 1 to kNameBytes; in a file, equal to the file name without `.textpb`.
// - title: not blank, at most kTitleBytes. description and every prompt: at most kPromptBytes.
// - stages: at least one, at most kStages. Per stage: name like the template's and unique in
//   the template; title and speaker_prompt not blank; opener PARTNER_A or PARTNER_B;
//   more_loop requires mirror_each_chunk; until_both_move_on requires both_partners;
//   listener_may_clarify requires mirror_each_chunk; turn_reflections only SUMMARY,
//   VALIDATION, EMPATHY, each at most once; turn_reflections and closer need a way to finish
//   sharing (no mirror_each_chunk, or more_loop), since pass_floor skips them; closer a known
//   StageCloser; chunk_max_chars and soft_turn_s within kChunkMaxChars and kSoftTurnS;
//   listener_questions only with listener_may_ask, each not blank, at most kListenerQuestions.
// - timing (0 means the default, with_defaults in timing.h): every field within its entry's
//   bound (reflection_beat_ms, pause_max_s, time_out_cap_s, appointment_window_s,
//   consult_break_max_s) and time_out_min_s at least its floor when set;
//   pause_default_s <= effective pause_max_s; time_out_cap_s >= the effective minimum;
//   time_out_default_s within [effective min, effective cap]; consult_break_default_s <=
//   effective consult_break_max_s.
//
// Thread safety: free functions are reentrant. A TemplateCatalog is immutable after `load`;
// concurrent const calls are safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mend/v1/api.pb.h"
#include "mend/v1/template.pb.h"
#include "server/engine/limits.h"
#include "server/engine/timing.h"

namespace mend::engine {

// One broken rule. `file` is the path as loaded ("" for a template from another source),
// `line` is 1-based (0 when there is no text to point into), `field` is the path of the
// offending field ("stages[2].more_loop", "timing.time_out_min_s"; for a syntax error the
// field the parser was reading, or "" when none applies).
struct TemplateError {
  std::string file;
  int line = 0;
  std::string field;
  std::string message;

  // "path:line: field: message"; parts that are empty/0 are left out
  // (e.g. "stages[0].opener: ..." for a template that came from no file).
  std::string to_string() const;
  bool operator==(const TemplateError&) const = default;
};

// Every broken rule of `tmpl`, in field order; empty when valid. Does not compare the name
// with any file name. Lines are 0 and file empty: there is no text to point into.
std::vector<TemplateError> validate(const v1::Template& tmpl);

// The result of parsing one template: the template, or every error found (syntax errors
// first; when the syntax is wrong no semantic rule is checked).
struct ParsedTemplate {
  std::optional<v1::Template> tmpl;
  std::vector<TemplateError> errors;
};

// Parses and validates text-format `text`, reporting errors against `file` (a label used in
// errors; the name is compared with its stem when `expected_name` is set).
ParsedTemplate parse_template(std::string_view text, const std::string& file,
                              std::optional<std::string_view> expected_name);

// Reads, parses and validates `path`; the template's name must equal the file stem.
// An unreadable file is one error with line 0.
ParsedTemplate load_template_file(const std::filesystem::path& path);

// The shipped and operator-provided templates, by name.
class TemplateCatalog {
 public:
  struct LoadResult;

  // Loads every regular file named *.textpb directly in `dir` (not recursive), in file-name
  // order, and validates each. Fails, with every error of every file, when the directory
  // cannot be read, holds no template, or any template is invalid: a partial catalog is
  // never returned.
  static LoadResult load(const std::filesystem::path& dir);

  // Builds a catalog from templates that already passed `validate` (tests, embedding).
  // Names must be unique. Returns errors like `load` (file empty) otherwise.
  static LoadResult from_templates(std::vector<v1::Template> templates);

  // The template called `name`, or nullptr. The pointer lives as long as the catalog.
  const v1::Template* find(std::string_view name) const;

  // One summary per template, ordered by name, for GET /v1/templates. `stages` holds the
  // stage titles, in stage order.
  std::vector<v1::TemplateSummary> list() const;

  std::size_t size() const { return by_name_.size(); }

 private:
  TemplateCatalog() = default;
  std::map<std::string, v1::Template, std::less<>> by_name_;
};

struct TemplateCatalog::LoadResult {
  std::optional<TemplateCatalog> catalog;  // set iff errors is empty
  std::vector<TemplateError> errors;
};

}  // namespace mend::engine
