#include "pattern/internal/constants.h"

namespace liaison::pattern::internal {

std::string_view ConstantFamily(Constant::Kind kind) {
  switch (kind) {
    case Constant::Kind::kInteger:
    case Constant::Kind::kFloat:
      return "number";
    case Constant::Kind::kString:
      return "string";
    case Constant::Kind::kBoolean:
      return "boolean";
    case Constant::Kind::kBinary:
    case Constant::Kind::kHex:
      return "binary";
    case Constant::Kind::kTimestamp:
      return "timestamp";
  }
  return "?";
}

bool IsHomogeneous(const std::vector<Constant>& set) {
  for (const Constant& k : set) {
    if (ConstantFamily(k.kind) != ConstantFamily(set.front().kind)) return false;
  }
  return true;
}

}  // namespace liaison::pattern::internal
