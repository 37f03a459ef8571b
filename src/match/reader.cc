#include "match/reader.h"

#include <cstring>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "core/strings.h"
#include "simdjson.h"
#include "toml++/toml.h"

namespace liaison::match {
namespace {

// What a log member means, beyond a plain field.
enum class Action : uint8_t {
  kField,         // push `field`
  kTime,          // the event time
  kAddrOrDomain,  // DNS answers: an address, or a name (CNAME, PTR, ...)
  kHost,          // HTTP host: a domain, and the host part of the URL
  kUri,           // HTTP uri/url: the rest of the URL
  kEmail,         // SMTP addresses, maybe in <...> with a display name
  kLower,         // lower-cased field (EVE writes "TCP", STIX protocols are lower case)
};

struct Mapping {
  Action action = Action::kField;
  Field field = Field::kDomain;
};

using MappingTable = absl::flat_hash_map<std::string, Mapping>;

// Zeek's field names, shared by TSV and JSON logs (conn, dns, http, ssl, files, x509, smtp...).
MappingTable ZeekTable() {
  return {
      {"ts", {Action::kTime}},
      {"id.orig_h", {Action::kField, Field::kSrcAddress}},
      {"id.resp_h", {Action::kField, Field::kDstAddress}},
      {"id.orig_p", {Action::kField, Field::kSrcPort}},
      {"id.resp_p", {Action::kField, Field::kDstPort}},
      {"proto", {Action::kLower, Field::kProtocol}},
      {"query", {Action::kField, Field::kDomain}},
      {"answers", {Action::kAddrOrDomain}},
      {"host", {Action::kHost}},
      {"uri", {Action::kUri}},
      {"server_name", {Action::kField, Field::kDomain}},
      {"md5", {Action::kField, Field::kMd5}},
      {"sha1", {Action::kField, Field::kSha1}},
      {"sha256", {Action::kField, Field::kSha256}},
      {"filename", {Action::kField, Field::kFileName}},
      {"mime_type", {Action::kField, Field::kMimeType}},
      {"tx_hosts", {Action::kField, Field::kAddress}},
      {"rx_hosts", {Action::kField, Field::kAddress}},
      {"user_agent", {Action::kField, Field::kUserAgent}},
      {"method", {Action::kField, Field::kHttpMethod}},
      {"certificate.subject", {Action::kField, Field::kX509Subject}},
      {"certificate.issuer", {Action::kField, Field::kX509Issuer}},
      {"certificate.serial", {Action::kField, Field::kX509Serial}},
      {"mailfrom", {Action::kEmail}},
      {"rcptto", {Action::kEmail}},
  };
}

// Suricata EVE (alert, dns v1/v2, http, tls, fileinfo, flow, smtp).
MappingTable EveTable() {
  return {
      {"timestamp", {Action::kTime}},
      {"src_ip", {Action::kField, Field::kSrcAddress}},
      {"dest_ip", {Action::kField, Field::kDstAddress}},
      {"src_port", {Action::kField, Field::kSrcPort}},
      {"dest_port", {Action::kField, Field::kDstPort}},
      {"proto", {Action::kLower, Field::kProtocol}},
      {"dns.rrname", {Action::kField, Field::kDomain}},
      {"dns.rdata", {Action::kAddrOrDomain}},
      {"dns.query.rrname", {Action::kField, Field::kDomain}},
      {"dns.answers.rrname", {Action::kField, Field::kDomain}},
      {"dns.answers.rdata", {Action::kAddrOrDomain}},
      {"dns.grouped.A", {Action::kField, Field::kAddress}},
      {"dns.grouped.AAAA", {Action::kField, Field::kAddress}},
      {"dns.grouped.CNAME", {Action::kField, Field::kDomain}},
      {"http.hostname", {Action::kHost}},
      {"http.url", {Action::kUri}},
      {"http.http_user_agent", {Action::kField, Field::kUserAgent}},
      {"http.http_method", {Action::kField, Field::kHttpMethod}},
      {"tls.sni", {Action::kField, Field::kDomain}},
      {"tls.subject", {Action::kField, Field::kX509Subject}},
      {"tls.issuerdn", {Action::kField, Field::kX509Issuer}},
      {"tls.serial", {Action::kField, Field::kX509Serial}},
      {"tls.ja3.hash", {Action::kField, Field::kJa3}},
      {"fileinfo.md5", {Action::kField, Field::kMd5}},
      {"fileinfo.sha1", {Action::kField, Field::kSha1}},
      {"fileinfo.sha256", {Action::kField, Field::kSha256}},
      {"fileinfo.filename", {Action::kField, Field::kFileName}},
      {"fileinfo.magic", {Action::kField, Field::kMimeType}},
      {"smtp.mail_from", {Action::kEmail}},
      {"smtp.rcpt_to", {Action::kEmail}},
  };
}

bool IsIpLiteral(std::string_view v) {
  if (v.empty()) return false;
  if (v.find(':') != std::string_view::npos) return true;
  for (char c : v) {
    if ((c < '0' || c > '9') && c != '.') return false;
  }
  return true;
}

// Parses Unix seconds with up to 9 fractional digits ("1521911721.123456").
bool ParseUnixSeconds(std::string_view s, Timestamp& out) {
  if (s.empty() || s.size() > 32) return false;
  int64_t seconds = 0;
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    ++i;
  }
  const size_t digits_start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (i - digits_start >= 15) return false;
    seconds = seconds * 10 + (s[i++] - '0');
  }
  if (i == digits_start) return false;
  int32_t nanos = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int scale = 100'000'000;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      nanos += (s[i++] - '0') * scale;
      scale /= 10;
    }
  }
  if (i != s.size()) return false;
  if (negative) {
    seconds = -seconds;
    if (nanos > 0) {
      seconds -= 1;
      nanos = 1'000'000'000 - nanos;
    }
  }
  out = Timestamp::FromUnixNanos(seconds, nanos);
  return true;
}

// RFC 3339, also EVE's "+0100" offsets without a colon.
bool ParseTextTime(std::string_view s, Timestamp& out) {
  if (s.size() > 64) return false;
  char buf[72];
  if (s.size() >= 5) {
    const char sign = s[s.size() - 5];
    if ((sign == '+' || sign == '-') && s.find('T') != std::string_view::npos &&
        s.substr(s.size() - 4).find(':') == std::string_view::npos) {
      std::memcpy(buf, s.data(), s.size() - 2);
      buf[s.size() - 2] = ':';
      std::memcpy(buf + s.size() - 1, s.data() + s.size() - 2, 2);
      s = std::string_view(buf, s.size() + 1);
    }
  }
  Result<Timestamp> t = Timestamp::ParseRfc3339(s);
  if (!t.ok()) return ParseUnixSeconds(s, out);
  out = *t;
  return true;
}

// Per-event state that turns host + uri into a URL and holds rewritten values.
class EventBuilder {
 public:
  void Begin(Event& event) {
    event.Clear();
    event_ = &event;
    host_ = {};
    uri_ = {};
    used_ = 0;
    bad_time_ = false;
  }

  void Apply(const Mapping& m, std::string_view v, bool is_number) {
    switch (m.action) {
      case Action::kField:
        event_->Push(m.field, v);
        return;
      case Action::kTime: {
        Timestamp t;
        if (is_number ? ParseUnixSeconds(v, t) : ParseTextTime(v, t)) {
          event_->time = t;
          event_->has_time = true;
        } else {
          bad_time_ = true;
        }
        return;
      }
      case Action::kAddrOrDomain:
        event_->Push(IsIpLiteral(v) ? Field::kAddress : Field::kDomain, v);
        return;
      case Action::kHost:
        host_ = v;
        event_->Push(Field::kDomain, StripPort(v));
        return;
      case Action::kUri:
        uri_ = v;
        return;
      case Action::kEmail: {
        const size_t lt = v.rfind('<');
        if (lt != std::string_view::npos) {
          v.remove_prefix(lt + 1);
          v = v.substr(0, v.find('>'));
        }
        event_->Push(Field::kEmail, v);
        return;
      }
      case Action::kLower: {
        char* p = Scratch(v.size());
        if (p == nullptr) return;
        for (size_t i = 0; i < v.size(); ++i) {
          const char c = v[i];
          p[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
        }
        event_->Push(m.field, {p, v.size()});
        return;
      }
    }
  }

  // Zeek's ASCII writer escapes non-printable bytes and its separators in values as \xHH and
  // a backslash as \\ (see zeek-testing/json-non-printable-escaping). Returns `v` decoded into
  // the scratch buffer, or `v` itself when it has no escape or the buffer is full.
  std::string_view DecodeZeekValue(std::string_view v) {
    if (v.find('\\') == std::string_view::npos) return v;
    char* out = Scratch(v.size());  // decoding never lengthens
    if (out == nullptr) return v;
    size_t n = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size() && v[i + 1] == '\\') {
        out[n++] = '\\';
        ++i;
        continue;
      }
      if (v[i] == '\\' && i + 3 < v.size() && v[i + 1] == 'x') {
        const int a = HexDigit(v[i + 2]);
        const int b = HexDigit(v[i + 3]);
        if (a >= 0 && b >= 0) {
          out[n++] = static_cast<char>(a * 16 + b);
          i += 3;
          continue;
        }
      }
      out[n++] = v[i];
    }
    used_ -= v.size() - n;  // give back what decoding saved
    return {out, n};
  }

  // Returns false when the time was malformed.
  bool End() {
    if (!uri_.empty()) {
      // An absolute URI (a proxy request) carries its own host; a path may contain "://"
      // further on (web.archive.org/web/2024/http://...), which does not make it absolute.
      if (uri_.front() != '/' && uri_.find("://") != std::string_view::npos) {
        event_->Push(Field::kUrl, uri_);
      } else if (!host_.empty()) {
        char* p = Scratch(host_.size() + uri_.size());
        if (p != nullptr) {
          std::memcpy(p, host_.data(), host_.size());
          std::memcpy(p + host_.size(), uri_.data(), uri_.size());
          event_->Push(Field::kUrl, {p, host_.size() + uri_.size()});
        }
      }
    }
    return !bad_time_;
  }

 private:
  static int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  static std::string_view StripPort(std::string_view host) {
    const size_t colon = host.rfind(':');
    if (colon != std::string_view::npos && host.find(':') == colon) return host.substr(0, colon);
    return host;
  }
  char* Scratch(size_t n) {
    if (used_ + n > sizeof(scratch_)) return nullptr;
    char* p = scratch_ + used_;
    used_ += n;
    return p;
  }

  Event* event_ = nullptr;
  std::string_view host_;
  std::string_view uri_;
  bool bad_time_ = false;
  size_t used_ = 0;
  char scratch_[16384];
};

// JSON logs: walks the members of each line's object once with simdjson On Demand, descending
// only into objects and arrays under a mapped path, and looks each member's dotted path up in
// the mapping. Zeek JSON's keys contain dots themselves ("id.orig_h"); both spellings meet the
// same table.
class JsonReader : public LogReader {
 public:
  explicit JsonReader(MappingTable table) : table_(std::move(table)) {
    for (const auto& [path, m] : table_) {
      for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', dot + 1)) {
        descend_.insert(path.substr(0, dot));
      }
    }
  }

  LineResult Read(std::string_view line, size_t capacity, Event& event) override {
    size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    if (i == line.size()) return LineResult::kSkipped;
    builder_.Begin(event);
    simdjson::ondemand::document doc;
    if (parser_.iterate(line.data(), line.size(), capacity).get(doc) != simdjson::SUCCESS) {
      return Bad(BadReason::kMalformedJson);
    }
    simdjson::ondemand::object object;
    if (auto err = doc.get_object().get(object); err != simdjson::SUCCESS) {
      return Bad(err == simdjson::INCORRECT_TYPE ? BadReason::kNotAnObject
                                                 : BadReason::kMalformedJson);
    }
    path_.clear();
    if (!Walk(object, 0)) return Bad(BadReason::kMalformedJson);
    if (!builder_.End()) return Bad(BadReason::kBadTime);
    if (event.truncated) CountBad(BadReason::kTooManyFields, line_number_);
    return LineResult::kEvent;
  }

 private:
  LineResult Bad(BadReason reason) {
    CountBad(reason, line_number_);
    return LineResult::kBad;
  }

  bool Scalar(simdjson::ondemand::value& value, const Mapping& m) {
    simdjson::ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) return false;
    switch (type) {
      case simdjson::ondemand::json_type::string: {
        std::string_view s;
        if (value.get_string().get(s) != simdjson::SUCCESS) return false;
        builder_.Apply(m, s, false);
        return true;
      }
      case simdjson::ondemand::json_type::number: {
        std::string_view s = value.raw_json_token();
        while (!s.empty() &&
               (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
          s.remove_suffix(1);
        }
        builder_.Apply(m, s, true);
        return true;
      }
      default:
        return true;  // null, booleans: nothing to match
    }
  }

  bool Walk(simdjson::ondemand::object& object, int depth) {
    const size_t base = path_.size();
    for (auto member : object) {
      simdjson::ondemand::field field;
      if (std::move(member).get(field) != simdjson::SUCCESS) return false;
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
      path_.resize(base);
      path_.append(key);
      simdjson::ondemand::value value = field.value();
      auto it = table_.find(ToAbsl(std::string_view(path_)));
      const bool mapped = it != table_.end();
      if (!mapped && (depth >= 4 || !descend_.contains(ToAbsl(std::string_view(path_))))) {
        continue;  // unread members are skipped by On Demand
      }
      simdjson::ondemand::json_type type;
      if (value.type().get(type) != simdjson::SUCCESS) return false;
      if (type == simdjson::ondemand::json_type::object) {
        simdjson::ondemand::object inner;
        if (value.get_object().get(inner) != simdjson::SUCCESS) return false;
        path_.push_back('.');
        if (!Walk(inner, depth + 1)) return false;
      } else if (type == simdjson::ondemand::json_type::array) {
        simdjson::ondemand::array array;
        if (value.get_array().get(array) != simdjson::SUCCESS) return false;
        const size_t here = path_.size();
        for (auto element_result : array) {
          simdjson::ondemand::value element;
          if (std::move(element_result).get(element) != simdjson::SUCCESS) return false;
          simdjson::ondemand::json_type et;
          if (element.type().get(et) != simdjson::SUCCESS) return false;
          if (et == simdjson::ondemand::json_type::object) {
            if (depth >= 4) continue;
            simdjson::ondemand::object inner;
            if (element.get_object().get(inner) != simdjson::SUCCESS) return false;
            path_.resize(here);
            path_.push_back('.');
            if (!Walk(inner, depth + 1)) return false;
            path_.resize(here);
          } else if (mapped && !Scalar(element, it->second)) {
            return false;
          }
        }
      } else if (mapped) {
        if (!Scalar(value, it->second)) return false;
      }
    }
    path_.resize(base);
    return true;
  }

  MappingTable table_;
  absl::flat_hash_set<std::string> descend_;
  simdjson::ondemand::parser parser_;
  std::string path_;
  EventBuilder builder_;
};

// Decodes Zeek's \xHH escapes in header values ("#separator \x09").
std::string DecodeZeekEscapes(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() + 0 && s[i + 1] == 'x') {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      const int a = hex(s[i + 2]);
      const int b = hex(s[i + 3]);
      if (a >= 0 && b >= 0) {
        out.push_back(static_cast<char>(a * 16 + b));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Zeek's TSV writer: '#' header lines declare the separators and the columns; each data row
// has exactly one value per column, "-" for unset and "(empty)" for empty containers.
class ZeekTsvReader : public LogReader {
 public:
  ZeekTsvReader() : table_(ZeekTable()) {}

  LineResult Read(std::string_view line, size_t, Event& event) override {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return LineResult::kSkipped;
    if (line[0] == '#') return Header(line);
    if (!have_fields_) return Bad(BadReason::kNoHeader);
    builder_.Begin(event);
    size_t column = 0;
    size_t start = 0;
    while (true) {
      size_t end = line.find(separator_, start);
      const bool last = end == std::string_view::npos;
      if (last) end = line.size();
      if (column >= columns_.size()) return Bad(BadReason::kColumnCount);
      const Column& c = columns_[column];
      const std::string_view v = line.substr(start, end - start);
      if (c.mapped && v != unset_ && v != empty_) {
        if (c.container) {
          size_t s = 0;
          while (true) {
            size_t e = v.find(set_separator_, s);
            if (e == std::string_view::npos) e = v.size();
            if (e > s)
              builder_.Apply(c.mapping, builder_.DecodeZeekValue(v.substr(s, e - s)), false);
            if (e == v.size()) break;
            s = e + 1;
          }
        } else {
          builder_.Apply(c.mapping, builder_.DecodeZeekValue(v), c.mapping.action == Action::kTime);
        }
      }
      ++column;
      if (last) break;
      start = end + 1;
    }
    if (column != columns_.size()) return Bad(BadReason::kColumnCount);
    if (!builder_.End()) return Bad(BadReason::kBadTime);
    if (event.truncated) CountBad(BadReason::kTooManyFields, line_number_);
    return LineResult::kEvent;
  }

 private:
  struct Column {
    bool mapped = false;
    bool container = false;
    Mapping mapping;
  };

  LineResult Bad(BadReason reason) {
    CountBad(reason, line_number_);
    return LineResult::kBad;
  }

  // Splits a header line at the current separator (the #separator line itself uses a space).
  LineResult Header(std::string_view line) {
    if (line.rfind("#separator", 0) == 0) {
      const std::string sep = DecodeZeekEscapes(line.substr(std::min<size_t>(line.size(), 11)));
      if (sep.size() != 1) return Bad(BadReason::kBadHeader);
      separator_ = sep[0];
      return LineResult::kSkipped;
    }
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
      const size_t end = line.find(separator_, start);
      parts.push_back(line.substr(start, end == std::string_view::npos ? end : end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
    const std::string_view directive = parts[0];
    if (directive == "#set_separator" && parts.size() == 2) {
      const std::string s = DecodeZeekEscapes(parts[1]);
      if (s.size() != 1) return Bad(BadReason::kBadHeader);
      set_separator_ = s[0];
    } else if (directive == "#empty_field" && parts.size() == 2) {
      empty_ = std::string(parts[1]);
    } else if (directive == "#unset_field" && parts.size() == 2) {
      unset_ = std::string(parts[1]);
    } else if (directive == "#fields") {
      if (parts.size() < 2) return Bad(BadReason::kBadHeader);
      columns_.assign(parts.size() - 1, Column{});
      for (size_t i = 1; i < parts.size(); ++i) {
        auto it = table_.find(ToAbsl(parts[i]));
        if (it != table_.end()) {
          columns_[i - 1].mapped = true;
          columns_[i - 1].mapping = it->second;
          // Without #types, Zeek's container columns are known by name.
          columns_[i - 1].container = parts[i] == "answers" || parts[i] == "tx_hosts" ||
                                      parts[i] == "rx_hosts" || parts[i] == "rcptto";
        }
      }
      have_fields_ = true;
    } else if (directive == "#types") {
      if (parts.size() - 1 != columns_.size()) return Bad(BadReason::kBadHeader);
      for (size_t i = 1; i < parts.size(); ++i) {
        columns_[i - 1].container =
            parts[i].rfind("set[", 0) == 0 || parts[i].rfind("vector[", 0) == 0;
      }
    }
    return LineResult::kSkipped;  // #path, #open, #close and comments
  }

  MappingTable table_;
  char separator_ = '\t';
  char set_separator_ = ',';
  std::string empty_ = "(empty)";
  std::string unset_ = "-";
  bool have_fields_ = false;
  std::vector<Column> columns_;
  EventBuilder builder_;
};

}  // namespace

std::string_view BadReasonName(BadReason reason) {
  static constexpr std::string_view kNames[] = {"malformed_json", "not_an_object",  "no_header",
                                                "bad_header",     "column_count",   "bad_time",
                                                "too_long",       "too_many_fields"};
  return kNames[static_cast<size_t>(reason)];
}

std::string_view LogFormatName(LogFormat format) {
  switch (format) {
    case LogFormat::kZeek:
      return "zeek";
    case LogFormat::kZeekJson:
      return "zeek-json";
    case LogFormat::kEve:
      return "eve";
    case LogFormat::kNdjson:
      return "ndjson";
  }
  return "?";
}

Result<LogFormat> ParseLogFormat(std::string_view name) {
  for (LogFormat f :
       {LogFormat::kZeek, LogFormat::kZeekJson, LogFormat::kEve, LogFormat::kNdjson}) {
    if (LogFormatName(f) == name) return f;
  }
  return absl::InvalidArgumentError(
      StrCat("unknown log format '", name, "' (zeek, zeek-json, eve, ndjson)"));
}

std::optional<LogFormat> DetectLogFormat(std::string_view head) {
  if (head.rfind("#separator", 0) == 0 || head.rfind("#fields", 0) == 0) return LogFormat::kZeek;
  // The first lines that say something: a corrupt first line should not hide the format.
  for (int n = 0; n < 16 && !head.empty(); ++n) {
    const size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head = nl == std::string_view::npos ? std::string_view() : head.substr(nl + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\r')) line.remove_prefix(1);
    if (line.empty() || line.front() != '{') continue;
    if (line.find("\"event_type\"") != std::string_view::npos) return LogFormat::kEve;
    if (line.find("\"_path\"") != std::string_view::npos ||
        line.find("\"id.orig_h\"") != std::string_view::npos ||
        line.find("\"uid\"") != std::string_view::npos) {
      return LogFormat::kZeekJson;
    }
  }
  return std::nullopt;
}

Result<FieldMapping> ParseFieldMapping(std::string_view toml_text, std::string_view source) {
  toml::table table;
  try {
    table = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {  // toml++ throws; stop it here
    return absl::InvalidArgumentError(StrCat(source, ":", e.source().begin.line, ":",
                                             e.source().begin.column, ": ", e.description()));
  }
  FieldMapping mapping;
  if (auto t = table["time"].value<std::string>()) mapping.time = *t;
  const toml::table* fields = table["fields"].as_table();
  if (fields == nullptr) {
    return absl::InvalidArgumentError(StrCat(source, ": a [fields] table is required"));
  }
  for (const auto& [key, node] : *fields) {
    const std::optional<std::string> name = node.value<std::string>();
    if (!name) {
      return absl::InvalidArgumentError(
          StrCat(source, ": fields.", key.str(), ": expected a string"));
    }
    const std::optional<Field> field = FieldForName(*name);
    if (!field) {
      return absl::InvalidArgumentError(
          StrCat(source, ": fields.", key.str(), ": unknown field '", *name, "'"));
    }
    mapping.fields.emplace_back(std::string(key.str()), *field);
  }
  return mapping;
}

std::unique_ptr<LogReader> MakeZeekTsvReader() { return std::make_unique<ZeekTsvReader>(); }
std::unique_ptr<LogReader> MakeZeekJsonReader() {
  return std::make_unique<JsonReader>(ZeekTable());
}
std::unique_ptr<LogReader> MakeEveReader() { return std::make_unique<JsonReader>(EveTable()); }

std::unique_ptr<LogReader> MakeNdjsonReader(const FieldMapping& mapping) {
  MappingTable table;
  for (const auto& [member, field] : mapping.fields) {
    Mapping m{Action::kField, field};
    if (field == Field::kEmail) m.action = Action::kEmail;
    table[member] = m;
  }
  if (!mapping.time.empty()) table[mapping.time] = Mapping{Action::kTime};
  return std::make_unique<JsonReader>(std::move(table));
}

std::unique_ptr<LogReader> MakeReader(LogFormat format, const FieldMapping* mapping) {
  switch (format) {
    case LogFormat::kZeek:
      return MakeZeekTsvReader();
    case LogFormat::kZeekJson:
      return MakeZeekJsonReader();
    case LogFormat::kEve:
      return MakeEveReader();
    case LogFormat::kNdjson:
      return MakeNdjsonReader(mapping ? *mapping : FieldMapping{});
  }
  return nullptr;
}

}  // namespace liaison::match
