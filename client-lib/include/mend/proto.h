// The wire schema (proto/mend/v1) as C++, safe to include after system headers.
//
// <netdb.h> (pulled in by Boost.Asio) defines a macro TRY_AGAIN, which is also the name of a
// RepairKind value. This header parses the generated code with that macro suspended. In code
// that sees both, spell the value as mend::v1::RepairKind_Parse / static_cast or include the
// generated headers before any Asio header.
#pragma once

#pragma push_macro("TRY_AGAIN")
#undef TRY_AGAIN
#include "mend/v1/api.pb.h"
#include "mend/v1/conversation.pb.h"
#include "mend/v1/frames.pb.h"
#include "mend/v1/roles.pb.h"
#pragma pop_macro("TRY_AGAIN")
