#include "stix/parse.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/strings.h"
#include "simdjson.h"
#include "stix/internal/locate.h"

namespace liaison::stix {
namespace {

Status Malformed(std::string_view text, size_t line_offset) {
  auto syntax = internal::FindSyntaxError(text, 1024);
  if (!syntax) return absl::InvalidArgumentError("malformed JSON");
  size_t line, column;
  internal::LineColumn(text, syntax->offset, line, column);
  return absl::InvalidArgumentError(
      StrCat(line + line_offset, ":", column, ": malformed JSON: ", syntax->message));
}

// The parsers and the padded copy of the input that SplitObjects needs. Made per call, they were
// about a third of SplitObjects' time on a TAXII POST of 100 objects (60 KB): the DOM parser's
// buffers (~10x the input) and two copies of the input were allocated, page-faulted in and freed
// for every body. A thread keeps one set for inputs up to kReusedInputBytes, so what it retains
// stays bounded (~15x that); larger inputs get a set of their own, freed after the call.
struct SplitBuffers {
  simdjson::dom::parser dom;
  simdjson::ondemand::parser ondemand;
  std::unique_ptr<char[]> padded;  // the input followed by SIMDJSON_PADDING bytes
  size_t padded_capacity = 0;      // bytes of input `padded` has room for

  // The input copied into `padded` (simdjson reads up to SIMDJSON_PADDING bytes past the end).
  std::string_view Pad(std::string_view text) {
    if (padded_capacity < text.size()) {
      padded = std::make_unique<char[]>(text.size() + simdjson::SIMDJSON_PADDING);
      padded_capacity = text.size();
    }
    std::memcpy(padded.get(), text.data(), text.size());
    std::memset(padded.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    return std::string_view(padded.get(), text.size());
  }
};
constexpr size_t kReusedInputBytes = 256 * 1024;

// The byte range of each element of `objects` in a bundle or envelope, found with simdjson's
// On Demand API, which skips over values without building them. `padded` is `text` copied into
// `buffers.padded`.
Status SplitContainer(std::string_view text, std::string_view padded, SplitBuffers& buffers,
                      SplitResult& out) {
  simdjson::ondemand::parser& parser = buffers.ondemand;
  simdjson::ondemand::document doc;
  if (parser.iterate(padded.data(), padded.size(), padded.size() + simdjson::SIMDJSON_PADDING)
          .get(doc) != simdjson::SUCCESS) {
    return Malformed(text, 0);
  }
  simdjson::ondemand::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("expected a STIX object, bundle or envelope");
  }
  const char* base = padded.data();
  bool saw_objects = false;
  // Lines are counted incrementally: objects come in offset order.
  size_t counted_to = 0, line = 1;
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Malformed(text, 0);
    if (key != "objects") continue;  // the iterator skips the value
    saw_objects = true;
    simdjson::ondemand::array objects;
    if (field.value().get_array().get(objects) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("/objects: expected a list");
    }
    size_t index = 0;
    for (auto item : objects) {
      simdjson::ondemand::object o;
      if (item.get_object().get(o) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(StrCat("/objects/", index, ": expected an object"));
      }
      std::string_view raw;
      if (o.raw_json().get(raw) != simdjson::SUCCESS) return Malformed(text, 0);
      const size_t offset = raw.data() - base;
      // raw_json may include trailing whitespace before the next token; trim it.
      while (!raw.empty() && isspace(static_cast<unsigned char>(raw.back()))) raw.remove_suffix(1);
      ObjectText t;
      t.json = text.substr(offset, raw.size());
      t.pointer = StrCat("/objects/", index++);
      line += std::count(text.begin() + counted_to, text.begin() + offset, '\n');
      counted_to = offset;
      t.line = line;
      out.objects.push_back(std::move(t));
    }
  }
  (void)saw_objects;
  return absl::OkStatus();
}

}  // namespace

Result<SplitResult> SplitObjects(std::string_view text) {
  SplitResult out;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return absl::InvalidArgumentError("empty input");
  if (text[first] != '{') return Malformed(text, 0);

  // A well-formed single document is a bundle, an envelope or one object.
  if (!internal::LooksLikeNdjson(text)) {
    // simdjson validates the whole document (RFC 8259, UTF-8, nesting) as the validator's
    // parse does; the byte scanner, which finds *where* a document is broken, runs only when
    // it refused (Malformed). It used to run first on every body: 7 % of a POST's CPU.
    thread_local SplitBuffers reused;
    std::unique_ptr<SplitBuffers> own;
    if (text.size() > kReusedInputBytes) own = std::make_unique<SplitBuffers>();
    SplitBuffers& buffers = own ? *own : reused;
    const std::string_view padded = buffers.Pad(text);
    simdjson::dom::object root;
    if (buffers.dom.parse(padded.data(), padded.size(), /*realloc_if_needed=*/false).get(root) !=
        simdjson::SUCCESS) {
      return Malformed(text, 0);
    }
    std::string_view type;
    const bool has_type = root["type"].get_string().get(type) == simdjson::SUCCESS;
    if ((has_type && type == "bundle") ||
        (!has_type && root["objects"].error() == simdjson::SUCCESS)) {
      out.form = has_type ? InputForm::kBundle : InputForm::kEnvelope;
      if (auto st = SplitContainer(text, padded, buffers, out); !st.ok()) return st;
      return out;
    }
    out.form = InputForm::kObject;
    size_t last = text.find_last_not_of(" \t\r\n");
    out.objects.push_back({text.substr(first, last - first + 1), "", 1});
    return out;
  }
  out.form = InputForm::kNdjson;
  size_t start = 0, line = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(start, end - start);
    ++line;
    start = end + 1;
    size_t a = l.find_first_not_of(" \t\r");
    if (a == std::string_view::npos) continue;
    size_t b = l.find_last_not_of(" \t\r");
    l = l.substr(a, b - a + 1);
    if (internal::FindSyntaxError(l, 1024)) return Malformed(l, line - 1);
    out.objects.push_back({l, "", line});
  }
  return out;
}

}  // namespace liaison::stix
