#include "app/commands/exchange_log.h"

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/json.h"
#include "core/status_macros.h"
#include "core/strings.h"
#include "core/timestamp.h"
#include "policy/partner_view.h"
#include "policy/release_log.h"

namespace liaison::app {
namespace {

std::string PolicyVersionOf(const policy::PartnerSet* partners, std::string_view name) {
  if (partners == nullptr) return {};
  const policy::Partner* p = partners->Find(name);
  return p == nullptr ? std::string() : p->policy_version;
}

class ReleaseLogRunRecorder final : public psi::RunRecorder {
 public:
  explicit ReleaseLogRunRecorder(store::Store& store) : log_(store) {}
  Status Record(const psi::RunRecord& record) override {
    auto entry = log_.Append("psi", record.partner, "", psi::RunRecordJson(record));
    return entry.ok() ? absl::OkStatus() : entry.status();
  }

 private:
  policy::ReleaseLog log_;
};

}  // namespace

taxii::sync::ReleaseFilter MakeSyncReleaseFilter(
    store::Store& store, std::shared_ptr<const policy::PartnerSet> partners,
    const std::vector<taxii::sync::PeerConfig>& peers) {
  std::map<std::string, std::string, std::less<>> collection_of;
  for (const auto& peer : peers) collection_of[peer.name] = peer.local_collection;
  // Relationship ends decided for one version are remembered for the next ones (the cache is
  // keyed by the collection's change stamp, like the TAXII server's), so a push batch does not
  // read every end from the store again.
  auto visibility = std::make_shared<policy::VisibilityCache>();
  return [&store, partners = std::move(partners), collection_of = std::move(collection_of),
          visibility](std::string_view peer,
                      const store::ObjectRecord& record) -> Result<std::optional<std::string>> {
    const policy::Partner* partner = partners ? partners->Find(peer) : nullptr;
    if (partner == nullptr) return std::optional<std::string>();
    auto it = collection_of.find(peer);
    const std::string collection = it == collection_of.end() ? std::string() : it->second;
    policy::PartnerView view(store, collection, *partner);
    if (auto stamp = store.ObjectsStamp(collection); stamp.ok()) {
      view.UseCache(*visibility, std::move(*stamp));
    }
    return view.ReleasedText(record);
  };
}

std::function<Result<bool>(std::string_view peer, const store::ObjectRecord& record)>
MakeSyncWithheldForEnds(store::Store& store, std::shared_ptr<const policy::PartnerSet> partners,
                        const std::vector<taxii::sync::PeerConfig>& peers) {
  std::map<std::string, std::string, std::less<>> collection_of;
  for (const auto& peer : peers) collection_of[peer.name] = peer.local_collection;
  auto visibility = std::make_shared<policy::VisibilityCache>();
  return [&store, partners = std::move(partners), collection_of = std::move(collection_of),
          visibility](std::string_view peer, const store::ObjectRecord& record) -> Result<bool> {
    const policy::Partner* partner = partners ? partners->Find(peer) : nullptr;
    if (partner == nullptr || !policy::HasReferencedEnds(record.type)) return false;
    auto it = collection_of.find(peer);
    const std::string collection = it == collection_of.end() ? std::string() : it->second;
    policy::PartnerView view(store, collection, *partner);
    if (auto stamp = store.ObjectsStamp(collection); stamp.ok()) {
      view.UseCache(*visibility, std::move(*stamp));
    }
    LIAISON_ASSIGN_OR_RETURN(policy::Decision d, view.Decide(record));
    return !d.released() && d.ends_invisible;
  };
}

std::function<std::string(std::string_view peer)> MakeSyncReleaseVersion(
    std::shared_ptr<const policy::PartnerSet> partners) {
  // A peer without a partner of its name receives nothing: version "".
  return [partners = std::move(partners)](std::string_view peer) {
    return PolicyVersionOf(partners.get(), peer);
  };
}

namespace {

// A receipt's release-log entry: its direction, whether it verified, and the receipt itself.
Result<store::AuditRecord> ReceiptEntry(const policy::PartnerSet* partners,
                                        const taxii::sync::ReceiptRecord& r) {
  json::Value details{json::Object{}};
  details.Set("direction", r.kind == taxii::sync::ReceiptRecord::Kind::kSent ? "sent" : "received");
  details.Set("verified", r.verified);
  auto receipt = json::Parse(r.receipt.ToJson());
  if (receipt.ok()) details.Set("receipt", *std::move(receipt));
  return policy::ReleaseLog::Entry("receipt", r.peer, PolicyVersionOf(partners, r.peer),
                                   json::Serialize(details));
}

}  // namespace

taxii::sync::ReceiptRecorder MakeReceiptRecorder(
    store::Store& store, std::shared_ptr<const policy::PartnerSet> partners) {
  auto log = std::make_shared<policy::ReleaseLog>(store);
  return [log, partners = std::move(partners)](const taxii::sync::ReceiptRecord& r) -> Status {
    LIAISON_ASSIGN_OR_RETURN(store::AuditRecord e, ReceiptEntry(partners.get(), r));
    return log->Append(std::move(e)).status();
  };
}

void SetReceiptLogging(store::Store& store, std::shared_ptr<const policy::PartnerSet> partners,
                       taxii::sync::EngineOptions& options) {
  options.recorder = MakeReceiptRecorder(store, partners);
  options.receipt_entry = [partners = std::move(partners)](const taxii::sync::ReceiptRecord& r) {
    return ReceiptEntry(partners.get(), r);
  };
  options.receipt_chain = &policy::ReleaseLog::ChainHash;
}

std::unique_ptr<psi::RunRecorder> MakeReleaseLogRunRecorder(store::Store& store) {
  return std::make_unique<ReleaseLogRunRecorder>(store);
}

}  // namespace liaison::app
