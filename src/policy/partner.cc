#include "policy/partner.h"

#include <toml++/toml.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "core/absl_compat.h"
#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "policy/internal/sha256.h"

namespace liaison::policy {

bool AllowDeny::Passes(std::string_view value) const {
  for (const std::string& d : deny) {
    if (d == value) return false;
  }
  if (allow.empty()) return true;
  for (const std::string& a : allow) {
    if (a == value) return true;
  }
  return false;
}

namespace {

json::Value SortedList(const std::vector<std::string>& values) {
  std::set<std::string> sorted(values.begin(), values.end());
  json::Array out;
  for (const std::string& v : sorted) out.emplace_back(v);
  return out;
}

json::Value AllowDenyJson(const AllowDeny& ad) {
  return json::Object{{"allow", SortedList(ad.allow)}, {"deny", SortedList(ad.deny)}};
}

}  // namespace

std::string CanonicalRules(const ReleaseRules& r) {
  std::vector<std::string> tlp;
  for (Tlp t : r.tlp) tlp.emplace_back(TlpName(t));
  json::Object o{
      {"creators", AllowDenyJson(r.creators)},
      {"labels", AllowDenyJson(r.labels)},
      {"markings", AllowDenyJson(r.markings)},
      {"min_confidence", r.min_confidence ? json::Value(*r.min_confidence) : json::Value()},
      {"require_confidence", r.require_confidence},
      {"require_visible_ends", r.require_visible_ends},
      {"tlp", SortedList(tlp)},
      {"types", AllowDenyJson(r.types)},
      {"unmarked", r.unmarked ? json::Value(TlpName(*r.unmarked)) : json::Value()},
  };
  return json::Canonicalize(o);
}

std::string ComputePolicyVersion(const ReleaseRules& rules) {
  return StrCat("sha256:", internal::Sha256Hex(CanonicalRules(rules)));
}

Result<PartnerSet> PartnerSet::Create(std::vector<Partner> partners) {
  absl::flat_hash_map<std::string, std::string> owner;  // "g:group" / "u:user" -> partner
  std::set<std::string> names;
  for (Partner& p : partners) {
    if (p.name.empty()) return absl::InvalidArgumentError("partner: empty name");
    if (!names.insert(p.name).second) {
      return absl::InvalidArgumentError(StrCat("partner ", p.name, ": declared twice"));
    }
    auto claim = [&](std::string key, std::string_view what) -> Status {
      auto [it, inserted] = owner.emplace(key, p.name);
      if (!inserted) {
        return absl::InvalidArgumentError(StrCat("partner ", p.name, ": ", what, " ", key.substr(2),
                                                 " already acts for partner ", it->second));
      }
      return absl::OkStatus();
    };
    for (const std::string& g : p.groups) LIAISON_RETURN_IF_ERROR(claim("g:" + g, "group"));
    for (const std::string& u : p.users) LIAISON_RETURN_IF_ERROR(claim("u:" + u, "user"));
    for (const std::string& c : p.client_certs) {
      LIAISON_RETURN_IF_ERROR(claim("c:" + c, "client certificate"));
    }
    if ((!p.client_certs.empty() || !p.client_cert_user.empty()) &&
        std::find(p.users.begin(), p.users.end(), p.client_cert_user) == p.users.end()) {
      // The certificate's user must act for this partner and no other, or the policy applied
      // to a certificate-authenticated request would not be this partner's.
      return absl::InvalidArgumentError(StrCat("partner ", p.name,
                                               ": client_certs needs client_cert_user, one of "
                                               "the partner's users"));
    }
    if (p.policy_version.empty()) p.policy_version = ComputePolicyVersion(p.rules);
  }
  PartnerSet set;
  set.partners_ = std::move(partners);
  set.nobody_.name = "(several partners)";
  set.nobody_.rules.tlp.clear();
  set.nobody_.policy_version = ComputePolicyVersion(set.nobody_.rules);
  return set;
}

const Partner* PartnerSet::Find(std::string_view name) const {
  for (const Partner& p : partners_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const Partner* PartnerSet::ForCertificate(std::string_view sha256_hex) const {
  if (sha256_hex.empty()) return nullptr;
  for (const Partner& p : partners_) {
    for (const std::string& c : p.client_certs) {
      if (c == sha256_hex) return &p;
    }
  }
  return nullptr;
}

const Partner* PartnerSet::ForUser(const store::User& user) const {
  if (user.is_admin) return nullptr;
  const Partner* found = nullptr;
  for (const Partner& p : partners_) {
    bool match = false;
    for (const std::string& u : p.users) match = match || u == user.name;
    for (const std::string& g : p.groups) {
      for (const std::string& ug : user.groups) match = match || g == ug;
    }
    if (!match) continue;
    if (found != nullptr) return &nobody_;
    found = &p;
  }
  return found;
}

namespace {

Status BadKey(std::string_view where, std::string_view key, std::string_view why) {
  return absl::InvalidArgumentError(StrCat(where, ": ", key, ": ", why));
}

Result<std::vector<std::string>> StringList(const toml::node& node, std::string_view where,
                                            std::string_view key) {
  const toml::array* a = node.as_array();
  if (a == nullptr) return BadKey(where, key, "expected an array of strings");
  std::vector<std::string> out;
  for (const toml::node& item : *a) {
    std::optional<std::string> s = item.value<std::string>();
    if (!s || s->empty()) return BadKey(where, key, "expected non-empty strings");
    out.push_back(std::move(*s));
  }
  return out;
}

// "sha256:AB:CD:..." or "sha256:abcd..." (or openssl's "SHA256 Fingerprint=AB:..." value part)
// as 64 lower-case hex digits; nullopt when it is not one.
std::optional<std::string> NormaliseFingerprint(std::string_view text) {
  std::string_view rest = text;
  if (rest.size() > 7 && absl::EqualsIgnoreCase(ToAbsl(rest.substr(0, 7)), "sha256:")) {
    rest.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  std::string hex;
  for (char c : rest) {
    if (c == ':') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    hex.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64) return std::nullopt;
  return hex;
}

Result<Partner> ParsePartner(const toml::table& t, std::string_view source, size_t index) {
  Partner p;
  std::string where = StrCat(source, ": partner ", index + 1);
  std::optional<std::string> name = t["name"].value<std::string>();
  if (!name || name->empty()) return BadKey(where, "name", "required, a non-empty string");
  p.name = *name;
  where = StrCat(source, ": partner ", p.name);
  ReleaseRules& r = p.rules;
  bool tlp_given = false;
  for (const auto& [k, node] : t) {
    const std::string key(k.str());
    if (key == "name") continue;
    if (key == "identity") {
      std::optional<std::string> v = node.value<std::string>();
      if (!v || v->rfind("identity--", 0) != 0) {
        return BadKey(where, key, "expected an identity id (identity--...)");
      }
      p.identity = *v;
    } else if (key == "groups") {
      LIAISON_ASSIGN_OR_RETURN(p.groups, StringList(node, where, key));
    } else if (key == "users") {
      LIAISON_ASSIGN_OR_RETURN(p.users, StringList(node, where, key));
    } else if (key == "client_certs") {
      LIAISON_ASSIGN_OR_RETURN(std::vector<std::string> prints, StringList(node, where, key));
      for (const std::string& f : prints) {
        std::optional<std::string> hex = NormaliseFingerprint(f);
        if (!hex) {
          return BadKey(where, key,
                        StrCat("\"", f,
                               "\" is not a SHA-256 fingerprint (\"sha256:\" and 64 hex digits, "
                               "colons allowed, as `openssl x509 -noout -fingerprint -sha256` "
                               "prints them)"));
        }
        p.client_certs.push_back(std::move(*hex));
      }
    } else if (key == "client_cert_user") {
      std::optional<std::string> v = node.value<std::string>();
      if (!v || v->empty()) return BadKey(where, key, "expected a user name");
      p.client_cert_user = *v;
    } else if (key == "tlp") {
      LIAISON_ASSIGN_OR_RETURN(std::vector<std::string> names, StringList(node, where, key));
      r.tlp.clear();
      tlp_given = true;
      for (const std::string& n : names) {
        std::optional<Tlp> level = ParseTlp(n);
        if (!level) return BadKey(where, key, StrCat("unknown TLP level \"", n, "\""));
        if (!TlpMayLeave(*level)) {
          return BadKey(
              where, key,
              StrCat("TLP:", TlpName(*level), " is never released to a partner (docs/policy.md)"));
        }
        r.tlp.push_back(*level);
      }
    } else if (key == "unmarked") {
      std::optional<std::string> v = node.value<std::string>();
      if (!v) return BadKey(where, key, "expected \"withhold\" or a TLP level");
      if (*v == "withhold") {
        r.unmarked.reset();
      } else {
        std::optional<Tlp> level = ParseTlp(*v);
        if (!level) return BadKey(where, key, StrCat("unknown TLP level \"", *v, "\""));
        r.unmarked = level;
      }
    } else if (key == "allow_types" || key == "deny_types" || key == "allow_labels" ||
               key == "deny_labels" || key == "allow_creators" || key == "deny_creators" ||
               key == "allow_markings" || key == "deny_markings") {
      LIAISON_ASSIGN_OR_RETURN(std::vector<std::string> list, StringList(node, where, key));
      const bool allow = key.rfind("allow_", 0) == 0;
      const std::string what = key.substr(allow ? 6 : 5);
      AllowDeny& ad = what == "types"      ? r.types
                      : what == "labels"   ? r.labels
                      : what == "creators" ? r.creators
                                           : r.markings;
      (allow ? ad.allow : ad.deny) = std::move(list);
    } else if (key == "min_confidence") {
      std::optional<int64_t> v = node.value<int64_t>();
      if (!v || *v < 0 || *v > 100) return BadKey(where, key, "expected an integer 0-100");
      r.min_confidence = static_cast<int>(*v);
    } else if (key == "require_confidence" || key == "require_visible_ends") {
      std::optional<bool> v = node.value<bool>();
      if (!v) return BadKey(where, key, "expected true or false");
      (key == "require_confidence" ? r.require_confidence : r.require_visible_ends) = *v;
    } else {
      return BadKey(where, key, "unknown key");
    }
  }
  (void)tlp_given;
  p.policy_version = ComputePolicyVersion(r);
  return p;
}

Result<PartnerSet> FromTable(const toml::table& root, std::string_view source) {
  std::vector<Partner> partners;
  if (const toml::node* node = root.get("partner")) {
    const toml::array* list = node->as_array();
    if (list == nullptr)
      return absl::InvalidArgumentError(StrCat(source, ": partner: use [[partner]]"));
    for (size_t i = 0; i < list->size(); ++i) {
      const toml::table* t = (*list)[i].as_table();
      if (t == nullptr) {
        return absl::InvalidArgumentError(StrCat(source, ": partner: use [[partner]] tables"));
      }
      LIAISON_ASSIGN_OR_RETURN(Partner p, ParsePartner(*t, source, i));
      partners.push_back(std::move(p));
    }
  }
  return PartnerSet::Create(std::move(partners));
}

}  // namespace

Result<PartnerSet> ParsePartners(std::string_view toml_text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, std::string(source));
  } catch (const toml::parse_error& e) {  // toml++ reports by throwing; stop it here
    return absl::InvalidArgumentError(StrCat(source, ":", e.source().begin.line, ":",
                                             e.source().begin.column, ": ",
                                             std::string(e.description())));
  }
  return FromTable(root, source);
}

Result<PartnerSet> LoadPartners(const std::string& config_path) {
  if (config_path.empty()) return PartnerSet{};
  toml::table root;
  try {
    root = toml::parse_file(config_path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(StrCat(config_path, ":", e.source().begin.line, ":",
                                             e.source().begin.column, ": ",
                                             std::string(e.description())));
  }
  return FromTable(root, config_path);
}

}  // namespace liaison::policy
