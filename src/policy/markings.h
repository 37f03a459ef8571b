#pragma once

// Traffic Light Protocol markings as STIX carries them, and what leaving the organisation means
// for each level.
//
// STIX 2.1 section 7.2.1.4 fixes the ids of the four TLP 1.0 marking definitions (WHITE, GREEN,
// AMBER, RED). The OASIS "TLP 2.0" extension (extension-definition--60a3c5c5-0d10-413e-aab3-
// 9e08dde9e88d, cti-stix-common-objects) fixes five more: CLEAR, GREEN, AMBER, AMBER+STRICT and
// RED. Both sets are recognised by id only: any other marking-definition that calls itself TLP
// is an unknown marking, so a forged "TLP:CLEAR" definition cannot lower a level.

#include <optional>
#include <string_view>

namespace liaison::policy {

// Ordered from least to most restrictive; TLP 1.0 WHITE is TLP 2.0 CLEAR.
enum class Tlp { kClear = 0, kGreen = 1, kAmber = 2, kAmberStrict = 3, kRed = 4 };

// The TLP level of a marking-definition id, or nullopt when it is not one of the nine fixed ids.
std::optional<Tlp> TlpOfMarking(std::string_view marking_definition_id);

// "clear", "green", "amber", "amber+strict", "red".
std::string_view TlpName(Tlp tlp);
// Accepts the names above in any case, "white" for clear and "amber-strict"; nullopt otherwise.
std::optional<Tlp> ParseTlp(std::string_view name);

// Whether a level may be released to a partner at all, whatever the partner's policy says.
// AMBER+STRICT restricts sharing to the recipient organisation only, so it never leaves ours;
// RED is for named individual recipients, which a collection served to an organisation cannot
// honour. Both are therefore never released through liaison.
inline bool TlpMayLeave(Tlp tlp) { return tlp <= Tlp::kAmber; }

// The TLP 2.0 ids, for tests and for building objects.
inline constexpr std::string_view kTlp2Clear =
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
inline constexpr std::string_view kTlp2Green =
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
inline constexpr std::string_view kTlp2Amber =
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
inline constexpr std::string_view kTlp2AmberStrict =
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
inline constexpr std::string_view kTlp2Red =
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
// TLP 1.0, STIX 2.1 section 7.2.1.4.
inline constexpr std::string_view kTlp1White =
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
inline constexpr std::string_view kTlp1Green =
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
inline constexpr std::string_view kTlp1Amber =
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
inline constexpr std::string_view kTlp1Red =
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

}  // namespace liaison::policy
