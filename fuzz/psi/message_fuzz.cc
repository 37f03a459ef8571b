// Hostile bytes into the PSI responder: every message either gets a reply or an error status
// of the documented kinds; nothing crashes, and a rejected message never leaves more sessions
// open than the policy allows. The first input byte picks whether a session is opened first (its id
// is spliced into the message's header), so that chunk and finish messages reach the session logic
// with a valid session id.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "psi/internal/wire.h"
#include "psi/psi.h"

namespace {

using namespace liaison::psi;

class NullRecorder : public RunRecorder {
 public:
  liaison::Status Record(const RunRecord&) override { return absl::OkStatus(); }
};

std::string Hello() {
  std::string m;
  internal::AppendHeader({internal::MessageType::kHello, "", 0}, m);
  internal::AppendU8(2, m);
  internal::AppendU8(static_cast<uint8_t>(ItemKind::kId), m);
  internal::AppendU64(4, m);
  internal::AppendU32(2, m);
  m += std::string(16, 'n');
  internal::AppendU16(0, m);
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static NullRecorder recorder;
  ResponderOptions o;
  WatchList list;
  list.kind = ItemKind::kId;
  list.items = {"a", "b", "c"};
  o.lists.push_back({"watch", list});
  PartnerPolicy p;
  p.partner = "g";
  p.lists = {"watch"};
  p.min_set_size = 0;
  p.cooldown = std::chrono::seconds(0);
  p.max_runs = 1000000;
  o.partners.push_back(p);
  auto responder = *Responder::Create(std::move(o), recorder);
  const Caller caller{"u", {"g"}};
  if (size == 0) return 0;
  // The first byte is a control byte; the message follows.
  const bool open_session = data[0] & 1;
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (open_session && input.size() >= internal::kHeaderBytes) {
    // Splice the id of a real session into the input's header.
    auto accept = responder->Handle(caller, Hello());
    if (!accept.ok()) std::abort();
    input.replace(6, internal::kSessionIdBytes, accept->substr(6, internal::kSessionIdBytes));
  }
  auto reply = responder->Handle(caller, input);
  if (!reply.ok()) {
    switch (reply.status().code()) {
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kAlreadyExists:
      case absl::StatusCode::kFailedPrecondition:
      case absl::StatusCode::kPermissionDenied:
      case absl::StatusCode::kResourceExhausted:
      case absl::StatusCode::kOutOfRange:
        break;
      default:
        std::abort();  // an undocumented error kind
    }
  }
  if (responder->open_sessions() > 8) std::abort();
  return 0;
}
