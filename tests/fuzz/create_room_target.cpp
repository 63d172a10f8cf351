// Fuzz target: the JSON body of POST /v1/rooms (DESIGN.md 8), as http_api parses and checks it
// before any store call: net::parse_json_body, then rooms::check_create_room_request.
//
// Input: the request body. Properties:
//   - neither function crashes, whatever the bytes (invalid UTF-8, deep nesting, huge numbers);
//   - a parsed request prints as JSON that parses back to an equal request;
//   - a request that passes the checks keeps every limit, and the engine makes a room from it
//     (with a shipped-like template) whose views build for everyone it names.
#include <google/protobuf/util/message_differencer.h>

#include <set>

#include "mend/v1/api.pb.h"
#include "server/engine/engine.h"
#include "server/engine/templates.h"
#include "server/net/json_body.h"
#include "server/rooms/create_request.h"
#include "tests/fuzz/fuzz_target.h"

namespace mend::fuzz {
namespace {

const v1::Template& room_template() {
  static const v1::Template tmpl = [] {
    auto parsed = engine::parse_template(
        R"pb(name: "fuzz" title: "Fuzz"
             stages { name: "talk" title: "Talk" opener: PARTNER_A speaker_prompt: "Say it." })pb",
        "fuzz", std::nullopt);
    require(parsed.tmpl.has_value(), "the fuzz template loads");
    return *parsed.tmpl;
  }();
  return tmpl;
}

void check_accepted(const v1::CreateRoomRequest& request, const rooms::CreateRoomLimits& limits) {
  require(request.partner_a_name().size() <= limits.max_name_bytes &&
              request.partner_b_name().size() <= limits.max_name_bytes,
          "accepted names keep their limit");
  require(request.topic().size() <= limits.max_topic_bytes, "an accepted topic keeps its limit");
  require(static_cast<std::size_t>(request.observers_size()) <= limits.max_observers,
          "accepted observers keep their limit");
  std::set<std::string> names(request.observers().begin(), request.observers().end());
  require(names.size() == static_cast<std::size_t>(request.observers_size()),
          "accepted observer names are unique");
  engine::RoomSetup setup;
  setup.topic = request.topic();
  setup.partner_a_name = request.partner_a_name();
  setup.partner_b_name = request.partner_b_name();
  setup.observers.assign(request.observers().begin(), request.observers().end());
  engine::RoomState state;
  engine::evolve(state, engine::create_room(room_template(), setup, 1'800'000'000'000));
  require(state.observers.size() == names.size(), "the room invites every observer named");
  for (const auto& name : request.observers()) {
    v1::Actor observer;
    observer.set_role(v1::OBSERVER);
    observer.set_observer(name);
    (void)engine::view(state, observer);
  }
}

}  // namespace

std::vector<std::string> seeds() {
  return {
      R"({"template":"speaker-listener","partnerAName":"Ana","partnerBName":"Ben"})",
      R"({"template":"imago-dialogue","topic":"evenings","partnerAName":"Ana","partnerBName":"Ben",)"
      R"("observers":["dr-lee","Sam K."],"inviteTtlS":3600})",
      R"({"template":"x","observers":["a","a"]})",
      R"({"template":"x","observers":["bad/name"]})",
      R"({"template":"x","inviteTtlS":"99999999999"})",
      R"({"template":"x","unknown":1})",
      R"({"template":"x","partner_a_name":"\u00e9\u00e9"})",
      R"([{"template":1}])",
      "{\"topic\":\"\xff\xfe\"}",
      "",
  };
}

}  // namespace mend::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mend;
  const fuzz::QuietProtobuf quiet;
  v1::CreateRoomRequest request;
  if (!net::parse_json_body(fuzz::as_text(data, size), request)) return 0;
  v1::CreateRoomRequest again;
  fuzz::require(net::parse_json_body(net::to_json(request), again),
                "a parsed request prints as JSON that parses");
  fuzz::require(google::protobuf::util::MessageDifferencer::Equals(request, again),
                "a parsed request survives its JSON");
  const rooms::CreateRoomLimits limits;
  if (const auto message = rooms::check_create_room_request(request, limits)) {
    fuzz::require(!message->empty(), "a refusal has a message");
    return 0;
  }
  fuzz::check_accepted(request, limits);
  return 0;
}
