#include "policy/markings.h"

#include <string>

#include "absl/strings/ascii.h"
#include "core/absl_compat.h"

namespace liaison::policy {

std::optional<Tlp> TlpOfMarking(std::string_view id) {
  struct Entry {
    std::string_view id;
    Tlp tlp;
  };
  static constexpr Entry kIds[] = {
      {kTlp2Clear, Tlp::kClear}, {kTlp2Green, Tlp::kGreen},
      {kTlp2Amber, Tlp::kAmber}, {kTlp2AmberStrict, Tlp::kAmberStrict},
      {kTlp2Red, Tlp::kRed},     {kTlp1White, Tlp::kClear},
      {kTlp1Green, Tlp::kGreen}, {kTlp1Amber, Tlp::kAmber},
      {kTlp1Red, Tlp::kRed},
  };
  // Cheap reject: every marking id that is not one of these pays one prefix compare at most.
  if (id.size() != kTlp2Clear.size()) return std::nullopt;
  for (const Entry& e : kIds) {
    if (e.id == id) return e.tlp;
  }
  return std::nullopt;
}

std::string_view TlpName(Tlp tlp) {
  switch (tlp) {
    case Tlp::kClear:
      return "clear";
    case Tlp::kGreen:
      return "green";
    case Tlp::kAmber:
      return "amber";
    case Tlp::kAmberStrict:
      return "amber+strict";
    case Tlp::kRed:
      return "red";
  }
  return "red";
}

std::optional<Tlp> ParseTlp(std::string_view name) {
  std::string n = absl::AsciiStrToLower(ToAbsl(name));
  if (n.rfind("tlp:", 0) == 0) n = n.substr(4);
  if (n == "clear" || n == "white") return Tlp::kClear;
  if (n == "green") return Tlp::kGreen;
  if (n == "amber") return Tlp::kAmber;
  if (n == "amber+strict" || n == "amber-strict") return Tlp::kAmberStrict;
  if (n == "red") return Tlp::kRed;
  return std::nullopt;
}

}  // namespace liaison::policy
