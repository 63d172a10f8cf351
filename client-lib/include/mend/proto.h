// The wire schema (proto/mend/v1) as C++: every generated message the SDK's API uses.
// (RepairKind's "try again" is spelled LET_ME_TRY_AGAIN because <netdb.h>, pulled in by
// Boost.Asio, defines a TRY_AGAIN macro; any include order works.)
#pragma once

#include "mend/v1/api.pb.h"
#include "mend/v1/conversation.pb.h"
#include "mend/v1/frames.pb.h"
#include "mend/v1/insights.pb.h"
#include "mend/v1/roles.pb.h"
