// Property: the indexed evaluation of a PatternSet agrees with evaluating each pattern on its
// own, with no index (the naive reference of STYLE.md section 9): same patterns matched, same
// bindings, same failures.
//
// Input: patterns, one a line, then a line "---" and the observations as JSON (a bundle or an
// array of STIX objects). Without "---", or when the JSON does not load, a fixed set of
// observations is used.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pattern/observations.h"
#include "pattern/pattern_set.h"

namespace {

constexpr std::string_view kDefaultObservations = R"([
  {"type":"observed-data","id":"observed-data--1","first_observed":"2020-01-01T00:00:00Z",
   "last_observed":"2020-01-01T00:00:10Z","number_observed":2,
   "object_refs":["network-traffic--1","ipv4-addr--1","ipv6-addr--1"]},
  {"type":"observed-data","id":"observed-data--2","first_observed":"2020-01-01T00:00:05Z",
   "last_observed":"2020-01-01T00:00:05Z","number_observed":1,
   "object_refs":["file--1","domain-name--1"]},
  {"type":"observed-data","id":"observed-data--3","first_observed":"2020-01-01T00:01:00Z",
   "last_observed":"2020-01-01T00:01:00Z","number_observed":1,
   "objects":{"0":{"type":"url","value":"https://a.example/x"},
              "1":{"type":"x-e","when":"2020-01-01T00:00:00Z","ref_ref":"0","n":[1,2.5,true]}}},
  {"type":"network-traffic","id":"network-traffic--1","dst_ref":"ipv4-addr--1","dst_port":443,
   "protocols":["ipv4","tcp"]},
  {"type":"ipv4-addr","id":"ipv4-addr--1","value":"10.1.2.3"},
  {"type":"ipv6-addr","id":"ipv6-addr--1","value":"2001:db8::1"},
  {"type":"file","id":"file--1","name":"a.exe","size":5,"hashes":{"MD5":"00"},
   "magic_number_hex":"ffd8"},
  {"type":"domain-name","id":"domain-name--1","value":"a.example"}
])";

bool SameStatus(const liaison::Status& a, const liaison::Status& b) { return a.code() == b.code(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace liaison::pattern;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view json = kDefaultObservations;
  if (size_t sep = input.find("\n---\n"); sep != std::string_view::npos) {
    json = input.substr(sep + 5);
    input = input.substr(0, sep);
  }
  auto observations = ObservationSet::FromJson(json);
  if (!observations.ok()) observations = ObservationSet::FromJson(kDefaultObservations);
  if (!observations.ok()) std::abort();

  PatternSet set;
  size_t start = 0;
  while (start <= input.size() && set.size() < 64) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    (void)set.Add(input.substr(start, end - start));
    start = end + 1;
  }
  const SetEvaluation indexed = set.Evaluate(*observations);
  const SetEvaluation naive = set.EvaluateEachNaively(*observations);
  bool same = indexed.matches.size() == naive.matches.size() &&
              indexed.failures.size() == naive.failures.size();
  for (size_t i = 0; same && i < naive.matches.size(); ++i) {
    same = indexed.matches[i].pattern == naive.matches[i].pattern &&
           indexed.matches[i].bindings == naive.matches[i].bindings;
  }
  for (size_t i = 0; same && i < naive.failures.size(); ++i) {
    same = indexed.failures[i].pattern == naive.failures[i].pattern &&
           SameStatus(indexed.failures[i].status, naive.failures[i].status);
  }
  if (!same) {
    std::fprintf(stderr, "indexed and naive evaluation disagree on:\n%.*s\n",
                 static_cast<int>(input.size()), input.data());
    std::abort();
  }
  return 0;
}
