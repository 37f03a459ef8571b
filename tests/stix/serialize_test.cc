#include "stix/serialize.h"

#include <string>
#include <string_view>
#include <vector>

#include "core/file.h"
#include "core/json.h"
#include "core/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stix/parse.h"
#include "testing/shared_data.h"

namespace liaison::stix {
namespace {

using ::testing::ElementsAreArray;

json::Value ParseOrDie(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status() << "\n" << text;
  return v.ok() ? *std::move(v) : json::Value();
}

std::vector<std::string> SplitTexts(std::string_view text) {
  auto split = SplitObjects(text);
  EXPECT_TRUE(split.ok()) << split.status();
  std::vector<std::string> texts;
  if (split.ok()) {
    for (const ObjectText& t : split->objects) texts.emplace_back(t.json);
  }
  return texts;
}

const std::vector<std::string> kTexts = {
    R"({"type":"identity","spec_version":"2.1","id":"identity--1","name":"a \"quoted\" name"})",
    // A pretty-printed object, as split out of a pretty-printed bundle.
    "{\n  \"type\": \"campaign\",\n  \"id\": \"campaign--1\",\n  \"name\": \"two  spaces\\n\"\n}",
};

TEST(SerializeBundle, CopiesObjectTextsVerbatim) {
  const std::string bundle =
      SerializeBundle(kTexts, "bundle--5255859a-24c0-443d-9fe3-7104116c1921");
  EXPECT_EQ(bundle,
            R"({"type":"bundle","id":"bundle--5255859a-24c0-443d-9fe3-7104116c1921","objects":[)" +
                kTexts[0] + "," + kTexts[1] + "]}");
  EXPECT_THAT(SplitTexts(bundle), ElementsAreArray(kTexts));
}

TEST(SerializeBundle, GeneratesAVersion4IdWhenNoneIsGiven) {
  json::Value b = ParseOrDie(SerializeBundle(kTexts));
  const std::string& id = b.Find("id")->as_string();
  ASSERT_EQ(id.substr(0, 8), "bundle--");
  auto uuid = Uuid::Parse(std::string_view(id).substr(8));
  ASSERT_TRUE(uuid.ok()) << uuid.status();
  EXPECT_EQ(uuid->version(), 4);
  EXPECT_EQ(b.Find("spec_version"), nullptr);  // 2.1 bundles have none
}

TEST(SerializeBundle, EmptyBundleHasNoObjectsMember) {
  EXPECT_EQ(SerializeBundle(std::span<const std::string>(), "bundle--1"),
            R"({"type":"bundle","id":"bundle--1"})");
}

TEST(SerializeBundle, TakesObjectsAndViews) {
  std::vector<Object> objects(2);
  objects[0].json = kTexts[0];
  objects[1].json = kTexts[1];
  std::vector<std::string_view> views(kTexts.begin(), kTexts.end());
  EXPECT_EQ(SerializeBundle(objects, "bundle--1"), SerializeBundle(kTexts, "bundle--1"));
  EXPECT_EQ(SerializeBundle(views, "bundle--1"), SerializeBundle(kTexts, "bundle--1"));
  EXPECT_EQ(SerializeNdjson(objects), SerializeNdjson(kTexts));
  EXPECT_EQ(SerializeEnvelope(objects, true, "n"), SerializeEnvelope(views, true, "n"));
}

TEST(SerializeNdjson, OneObjectALineWithMultiLineTextsCompacted) {
  const std::string ndjson = SerializeNdjson(kTexts);
  EXPECT_EQ(ndjson, kTexts[0] + "\n" +
                        R"({"type":"campaign","id":"campaign--1","name":"two  spaces\n"})" + "\n");
  std::vector<std::string> back = SplitTexts(ndjson);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0], kTexts[0]);  // one-line texts are verbatim
  EXPECT_EQ(ParseOrDie(back[1]), ParseOrDie(kTexts[1]));
}

TEST(SerializeEnvelope, EmptyMoreNextAndObjects) {
  EXPECT_EQ(SerializeEnvelope(std::span<const std::string>(), false), "{}");
  EXPECT_EQ(SerializeEnvelope(std::span<const std::string>(), true, "a\"b"),
            R"({"more":true,"next":"a\"b"})");
  const std::string envelope = SerializeEnvelope(kTexts, false);
  EXPECT_EQ(envelope, R"({"more":false,"objects":[)" + kTexts[0] + "," + kTexts[1] + "]}");
  EXPECT_THAT(SplitTexts(envelope), ElementsAreArray(kTexts));
}

TEST(AppendCompactJson, KeepsStringsIntact) {
  std::string out;
  AppendCompactJson("{ \"a b\" : [ 1 ,\t\"x \\\" y\\\\\" ] ,\r\n \"c\":\"\\\\\" }", out);
  EXPECT_EQ(out, R"({"a b":[1,"x \" y\\"],"c":"\\"})");
}

// parse(serialise(parse(x))) == parse(x) for real bundles and NDJSON: the same object texts come
// back, and as JSON the whole input is unchanged.
TEST(SerializeRealData, RoundTripIsStable) {
  LIAISON_REQUIRE_SHARED_DIR(shared);
  const std::filesystem::path stix = shared / "data" / "stix";
  std::vector<std::filesystem::path> files =
      testing::FilesUnder(stix / "oasis-cti-documentation", {".json"});
  files.push_back(stix / "attack-flow-corpus/corpus/solarwinds.json");
  files.push_back(stix / "capec/capec-3.9.stix21-objects.ndjson.gz");
  for (const std::filesystem::path& path : files) {
    SCOPED_TRACE(path.string());
    auto buffer = ReadInput(path.string());
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    auto split = SplitObjects(buffer->view());
    ASSERT_TRUE(split.ok()) << split.status();
    std::vector<std::string_view> texts;
    for (const ObjectText& t : split->objects) texts.push_back(t.json);
    if (split->form == InputForm::kBundle) {
      json::Value original = ParseOrDie(buffer->view());
      const std::string& id = original.Find("id")->as_string();
      const std::string out = SerializeBundle(texts, id);
      EXPECT_THAT(SplitTexts(out), ElementsAreArray(texts));
      // As JSON, the bundle's id and objects are unchanged (other bundle members, such as the
      // created/modified some producers add, are not STIX and are not kept).
      json::Value back = ParseOrDie(out);
      EXPECT_EQ(*back.Find("id"), *original.Find("id"));
      EXPECT_EQ(*back.Find("objects"), *original.Find("objects"));
    } else {
      const std::string out = SerializeNdjson(texts);
      EXPECT_THAT(SplitTexts(out), ElementsAreArray(texts));
      EXPECT_EQ(SerializeNdjson(SplitTexts(out)), out);
    }
  }
}

}  // namespace
}  // namespace liaison::stix
