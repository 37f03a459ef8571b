#pragma once

// Printing the AST back to pattern text.
//
// The output is canonical: single spaces around operators, `=` and `!=` rather than `==` and
// `<>`, property names quoted only when they must be, numbers in plain decimal, no comments.
// It always parses back to an equal tree: Parse(Print(p)) == p for every p that Parse returned.

#include <string>

#include "pattern/ast.h"

namespace liaison::pattern {

std::string Print(const Pattern& pattern);
std::string Print(const ObservationExpression& expression);
std::string Print(const ComparisonExpression& expression);
std::string Print(const Comparison& comparison);
std::string Print(const ObjectPath& path);
std::string Print(const Constant& constant);
std::string Print(const Qualifier& qualifier);

}  // namespace liaison::pattern
