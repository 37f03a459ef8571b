#pragma once

// Partners and their release rules (issue #6). A partner is an organisation we release to: its
// STIX identity, the liaison users and groups that act for it (a user in a partner's group sees
// the TAXII server through that partner's policy), and the rules that decide which object
// versions it may receive. Partners are declared in the server's TOML configuration as
// `[[partner]]` tables; docs/policy.md lists the keys and the rule semantics.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "policy/markings.h"
#include "store/store.h"

namespace liaison::policy {

// An allow list and a deny list of strings. An empty allow list allows everything not denied;
// a non-empty one allows only what it names. Deny wins over allow.
struct AllowDeny {
  std::vector<std::string> allow;
  std::vector<std::string> deny;

  // Whether `value` passes (exact comparison).
  bool Passes(std::string_view value) const;
  friend bool operator==(const AllowDeny&, const AllowDeny&) = default;
};

// What a partner may receive. Every rule must pass for an object version to be released.
struct ReleaseRules {
  // TLP levels the partner may receive; AMBER+STRICT and RED are refused when configured
  // (they never leave, see markings.h).
  std::vector<Tlp> tlp = {Tlp::kClear};
  // The level assumed for an object without any TLP marking; nullopt withholds such objects.
  std::optional<Tlp> unmarked;
  AllowDeny types;     // STIX type names
  AllowDeny labels;    // `labels` values: an object passes when no label is denied and, with a
                       // non-empty allow list, at least one label is allowed
  AllowDeny creators;  // created_by_ref identity ids; an object without one fails a non-empty
                       // allow list
  // Marking definitions other than TLP (statement markings, custom definitions): an object (or
  // a granular-marked property) carrying one is released only when the id is in `allow` (an
  // empty allow list allows none) and not in `deny`: an unknown marking may restrict sharing.
  AllowDeny markings;
  std::optional<int> min_confidence;  // objects with a lower `confidence` are withheld
  bool require_confidence = false;    // withhold objects without `confidence`
  // Relationships and sightings are withheld unless every object they point to (source_ref,
  // target_ref; sighting_of_ref, observed_data_refs, where_sighted_refs) is in the same
  // collection and released to the partner. With `false`, the ends are not checked.
  bool require_visible_ends = true;

  friend bool operator==(const ReleaseRules&, const ReleaseRules&) = default;
};

struct Partner {
  std::string name;                 // unique; the release log names partners by it
  std::string identity;             // the partner's STIX identity id ("" when not declared)
  std::vector<std::string> groups;  // liaison user groups that act for the partner
  std::vector<std::string> users;   // individual liaison users that act for the partner
  // SHA-256 fingerprints (64 lower-case hex digits) of the client certificates the partner's
  // servers present over mTLS (`[tls] client_ca`). A request on such a connection without an
  // Authorization header is authenticated as `client_cert_user`, one of `users`.
  std::vector<std::string> client_certs;
  std::string client_cert_user;
  ReleaseRules rules;
  // "sha256:<hex>" of the canonical JSON of `rules` (RFC 8785), set by LoadPartners and
  // ComputePolicyVersion: the release log records it, so a release can be tied to the exact
  // rules in force.
  std::string policy_version;
};

// The canonical JSON of the rules (lists sorted and deduplicated), and its version hash.
std::string CanonicalRules(const ReleaseRules& rules);
std::string ComputePolicyVersion(const ReleaseRules& rules);

class PartnerSet {
 public:
  PartnerSet() = default;
  // InvalidArgument when two partners share a name, or a group or user belongs to two.
  static Result<PartnerSet> Create(std::vector<Partner> partners);

  const std::vector<Partner>& partners() const { return partners_; }
  const Partner* Find(std::string_view name) const;
  // The partner `user` acts for, or nullptr when none (admins are never a partner: they see
  // everything). A user whose groups belong to two or more partners gets a partner whose
  // policy releases nothing: picking either would let the wider policy decide.
  const Partner* ForUser(const store::User& user) const;
  // The partner whose `client_certs` holds `sha256_hex` (lower-case hex of the certificate's
  // DER), or nullptr. A fingerprint belongs to at most one partner (Create refuses two).
  const Partner* ForCertificate(std::string_view sha256_hex) const;
  bool empty() const { return partners_.empty(); }

 private:
  std::vector<Partner> partners_;
  Partner nobody_;  // tlp = {}: every object fails the TLP rule
};

// Reads the `[[partner]]` tables of a TOML configuration file ("" gives no partners).
// InvalidArgument with the file, partner and key on a bad or unknown key: a typo in a release
// policy must not silently widen it.
Result<PartnerSet> LoadPartners(const std::string& config_path);
// The same from TOML text (tests); `source` names it in errors.
Result<PartnerSet> ParsePartners(std::string_view toml_text, std::string_view source);

}  // namespace liaison::policy
