// JSON request bodies of the HTTP API: the Protobuf JSON mapping of proto/mend/v1/api.proto,
// strict (an unknown field is an error, so a misspelt option never passes silently).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

namespace mend::net {

// Parses `body` into `out` (which should be empty). False, with `out` unspecified, when the
// body is not a JSON object of that message.
bool parse_json_body(std::string_view body, google::protobuf::Message& out);

// `message` as JSON with every primitive field printed (defaults too), as the API answers.
std::string to_json(const google::protobuf::Message& message);

}  // namespace mend::net
