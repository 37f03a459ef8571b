#include "stix/internal/name_table.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace liaison::stix::internal {
namespace {

// Names around every length the lookup treats differently (the 4-, 8-, 16- and 32-byte loads).
std::vector<std::string> Names() {
  std::vector<std::string> names;
  for (size_t n : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 64, 200}) {
    std::string name;
    for (size_t i = 0; i < n; ++i) name += static_cast<char>('a' + (i * 7 + n) % 26);
    names.push_back(name);
  }
  return names;
}

TEST(NameTable, FindsEveryInsertedNameAndNothingElse) {
  const std::vector<std::string> names = Names();
  NameTable<int> table;
  for (size_t i = 0; i < names.size(); ++i) table.InsertOrAssign(names[i], static_cast<int>(i));
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    // FindInDocument's caller guarantees 16 readable bytes past the name: give it garbage there.
    std::string padded = name + std::string(16, '\xff');
    const int* found = table.FindInDocument(std::string_view(padded).substr(0, name.size()));
    ASSERT_NE(found, nullptr) << name;
    EXPECT_EQ(*found, static_cast<int>(i));
    ASSERT_NE(table.Find(name), nullptr);
    EXPECT_EQ(*table.Find(name), static_cast<int>(i));

    // Near misses: one byte changed at the start, the middle and the end; one byte shorter or
    // longer (a prefix of a name, or a name with a suffix, is another name).
    for (size_t at : {size_t{0}, name.size() / 2, name.size() - 1}) {
      std::string other = name;
      other[at] = other[at] == 'z' ? 'y' : 'z';
      std::string other_padded = other + std::string(16, '\0');
      EXPECT_EQ(table.FindInDocument(std::string_view(other_padded).substr(0, other.size())),
                nullptr)
          << other;
      EXPECT_EQ(table.Find(other), nullptr) << other;
    }
    const std::string shorter = name.substr(0, name.size() - 1);
    if (std::find(names.begin(), names.end(), shorter) == names.end()) {
      EXPECT_EQ(table.Find(shorter), nullptr) << shorter;
    }
    EXPECT_EQ(table.Find(name + "x"), nullptr);
  }
  EXPECT_EQ(table.Find(""), nullptr);
  EXPECT_EQ(table.Find(std::string(300, 'a')), nullptr);
}

TEST(NameTable, AssignReplacesAndEntriesKeepInsertionOrder) {
  NameTable<int> table;
  table.InsertOrAssign("created", 1);
  table.InsertOrAssign("modified", 2);
  table.InsertOrAssign("created", 3);
  ASSERT_EQ(table.entries().size(), 2u);
  EXPECT_EQ(table.entries()[0].name, "created");
  EXPECT_EQ(table.entries()[0].value, 3);
  EXPECT_EQ(*table.Find("modified"), 2);
  *table.FindMutable("modified") = 4;
  EXPECT_EQ(*table.Find("modified"), 4);
}

TEST(NameTable, ManyEntriesAndTheirMisses) {
  // Enough names to grow the table several times; every probe sequence must still end.
  std::vector<std::string> names;
  for (int i = 0; i < 500; ++i) names.push_back("x_custom_property_" + std::to_string(i));
  NameTable<int> table;
  for (int i = 0; i < 500; ++i) table.InsertOrAssign(names[i], i);
  for (int i = 0; i < 500; ++i) {
    ASSERT_NE(table.Find(names[i]), nullptr);
    EXPECT_EQ(*table.Find(names[i]), i);
    EXPECT_EQ(table.Find("x_custom_property_" + std::to_string(i + 500)), nullptr);
  }
}

TEST(NamesEqual, ComparesWholeNames) {
  for (const std::string& a : Names()) {
    for (const std::string& b : Names()) EXPECT_EQ(NamesEqual(a, b), a == b);
    std::string changed = a;
    changed.back() ^= 1;
    EXPECT_FALSE(NamesEqual(a, changed));
    changed = a;
    changed[a.size() / 2] ^= 1;
    EXPECT_FALSE(NamesEqual(a, changed));
  }
  EXPECT_TRUE(NamesEqual("", ""));
}

}  // namespace
}  // namespace liaison::stix::internal
