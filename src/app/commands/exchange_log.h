#pragma once

// Where sync and PSI meet the release policy and the release log (issues #6 and #7). Kept in the
// app because it is the only place that links policy, sync and psi together.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "policy/partner.h"
#include "psi/run_log.h"
#include "store/store.h"
#include "taxii/sync/sync.h"

namespace liaison::app {

// Sync push releases to a peer exactly what the partner of the same name may receive, sanitised
// as for a TAXII GET; a peer with no partner of its name receives nothing (least privilege:
// docs/sync.md). `partners` may be null (no partners: nothing is pushed).
taxii::sync::ReleaseFilter MakeSyncReleaseFilter(store::Store& store,
                                                 std::shared_ptr<const policy::PartnerSet> partners,
                                                 const std::vector<taxii::sync::PeerConfig>& peers);

// For sync push (EngineOptions::withheld_for_ends): whether a version the partner of the peer's
// name does not receive is withheld only because something it references is invisible to that
// partner now, so the engine re-offers it once that end gets a visible version (docs/sync.md).
std::function<Result<bool>(std::string_view peer, const store::ObjectRecord& record)>
MakeSyncWithheldForEnds(store::Store& store, std::shared_ptr<const policy::PartnerSet> partners,
                        const std::vector<taxii::sync::PeerConfig>& peers);

// The partner's policy version for each peer ("" without a partner): the push starts over when
// it changes, so versions the old policy withheld reach the peer (docs/sync.md).
std::function<std::string(std::string_view peer)> MakeSyncReleaseVersion(
    std::shared_ptr<const policy::PartnerSet> partners);

// Receipts, sent and received, go into the hash-chained release log as "receipt" entries.
taxii::sync::ReceiptRecorder MakeReceiptRecorder(
    store::Store& store, std::shared_ptr<const policy::PartnerSet> partners);

// Both kinds of receipt logging of `options`: the recorder above, and received receipts logged
// in the same commit as the objects they acknowledge (EngineOptions::receipt_entry).
void SetReceiptLogging(store::Store& store, std::shared_ptr<const policy::PartnerSet> partners,
                       taxii::sync::EngineOptions& options);

// PSI runs (and refusals) go into the release log as "psi" entries: who, when, mode, sizes,
// outcome; never the items.
std::unique_ptr<psi::RunRecorder> MakeReleaseLogRunRecorder(store::Store& store);

}  // namespace liaison::app
