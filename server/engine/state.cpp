#include "server/engine/state.h"

#include <google/protobuf/util/message_differencer.h>

namespace mend::engine {

bool TemplateRef::operator==(const TemplateRef& other) const {
  if (tmpl_ == other.tmpl_) return true;
  if (tmpl_ == nullptr || other.tmpl_ == nullptr) return false;
  return google::protobuf::util::MessageDifferencer::Equals(*tmpl_, *other.tmpl_);
}

}  // namespace mend::engine
