// create_room: the first event of a room; is_definitive: which rejections are final.
#include "server/engine/engine.h"

namespace mend::engine {

v1::Event create_room(const v1::Template& tmpl, const RoomSetup& setup, TimeMs now) {
  v1::Event event;
  event.set_seq(1);
  event.set_at_ms(now);
  event.mutable_actor()->set_role(v1::SYSTEM);
  auto* created = event.mutable_room_created();
  *created->mutable_template_() = tmpl;
  created->set_topic(setup.topic);
  created->set_partner_a_name(setup.partner_a_name);
  created->set_partner_b_name(setup.partner_b_name);
  for (const std::string& name : setup.observers) created->add_observers(name);
  created->set_series_id(setup.series_id);
  return event;
}

bool is_definitive(v1::RejectionCode code) {
  switch (code) {
    case v1::TOO_SOON:
    case v1::RATE_LIMITED:
    case v1::UNAVAILABLE:
    case v1::INTERNAL:
    case v1::REJECTION_CODE_UNSPECIFIED:
      return false;
    default:
      return v1::RejectionCode_IsValid(code);
  }
}

}  // namespace mend::engine
