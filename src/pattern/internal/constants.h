#pragma once

// Rules about constants that both the static checks (check.cc) and evaluation (evaluate.cc)
// apply, kept in one place so the two cannot drift apart.

#include <string_view>
#include <vector>

#include "pattern/ast.h"

namespace liaison::pattern::internal {

// The data type family of a constant for the homogeneity rule of IN (section 9.6.1: "the set
// values MUST be constants of homogeneous data type"). Integers and floats are one family
// (both compare as numbers); hex and binary are one (both are octets).
std::string_view ConstantFamily(Constant::Kind kind);

// Whether every constant of an IN set is of one family (an empty set is).
bool IsHomogeneous(const std::vector<Constant>& set);

}  // namespace liaison::pattern::internal
