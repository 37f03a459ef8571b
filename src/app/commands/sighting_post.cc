#include "app/commands/sighting_post.h"

#include <cstdlib>
#include <utility>

#include "app/commands/taxii_config.h"
#include "core/status_macros.h"
#include "core/strings.h"

namespace liaison::app {

Result<PostTarget> ResolvePostTarget(const std::string& config_path, const std::string& target) {
  PostTarget t;
  t.name = target;
  if (target.find("://") == std::string::npos) {
    LIAISON_ASSIGN_OR_RETURN(TaxiiConfig config, LoadTaxiiConfig(config_path));
    for (const taxii::sync::PeerConfig& p : config.peers) {
      if (p.name != target) continue;
      t.collection_url = p.collection_url;
      t.client = p.client;
      return t;
    }
    return absl::NotFoundError(StrCat("no [[peer]] named \"", target, "\"",
                                      config_path.empty() ? " (give --config)" : " in ",
                                      config_path));
  }
  LIAISON_RETURN_IF_ERROR(taxii::sync::SplitCollectionUrl(target).status());
  t.collection_url = target;
  if (!t.collection_url.ends_with('/')) t.collection_url += '/';
  if (const char* token = std::getenv("LIAISON_TOKEN")) t.client.token = token;
  if (const char* user = std::getenv("LIAISON_USER"); user != nullptr && t.client.token.empty()) {
    t.client.username = user;
    if (const char* password = std::getenv("LIAISON_PASSWORD")) t.client.password = password;
  }
  return t;
}

Result<std::unique_ptr<EnvelopePoster>> EnvelopePoster::Create(PostTarget target, size_t batch) {
  LIAISON_ASSIGN_OR_RETURN(std::unique_ptr<taxii::sync::Client> client,
                           taxii::sync::Client::Create(target.client));
  return std::unique_ptr<EnvelopePoster>(
      new EnvelopePoster(std::move(target), std::move(client), batch == 0 ? 1 : batch));
}

Status EnvelopePoster::Add(std::string_view json) {
  envelope_ += queued_ == 0 ? "{\"objects\":[" : ",";
  envelope_ += json;
  if (++queued_ >= batch_) return Post();
  return absl::OkStatus();
}

Status EnvelopePoster::Post() {
  if (queued_ == 0) return absl::OkStatus();
  envelope_ += "]}";
  auto status = client_->AddObjects(target_.collection_url, envelope_);
  envelope_.clear();
  const size_t sent = queued_;
  queued_ = 0;
  if (!status.ok()) {
    return Status(status.status().code(), StrCat("posting ", sent, " objects to ", target_.name,
                                                 ": ", status.status().message()));
  }
  accepted_ += static_cast<size_t>(status->success_count + status->pending_count);
  refused_ += static_cast<size_t>(status->failure_count);
  if (first_refusal_.empty() && !status->failures.empty()) {
    const auto& f = status->failures.front();
    first_refusal_ = StrCat(f.id, ": ", f.message);
  }
  return absl::OkStatus();
}

Status EnvelopePoster::Finish() {
  LIAISON_RETURN_IF_ERROR(Post());
  if (refused_ > 0) {
    return absl::FailedPreconditionError(
        StrCat(target_.name, " refused ", refused_, " objects; the first: ", first_refusal_));
  }
  return absl::OkStatus();
}

}  // namespace liaison::app
