#include "server/net/json_body.h"

#include <google/protobuf/util/json_util.h>

namespace mend::net {

bool parse_json_body(std::string_view body, google::protobuf::Message& out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  return google::protobuf::util::JsonStringToMessage(
             google::protobuf::StringPiece(body.data(), body.size()), &out,
             options)
      .ok();
}

std::string to_json(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace mend::net
