// Stage 2 of evaluation: finding a binding for the observation operators and qualifiers
// (STIX 2.1 section 9.5).
//
// The search is a backtracking one over a goal list, run by a loop rather than by recursion so
// that no pattern and no input can exhaust the stack; each step costs one unit of a budget.
//
// Invariants:
//   - goals and constraint frames are immutable cells in arenas (`goals_`, `frames_`), linked
//     by index; a state is a (goal list, frame list) pair, so a choice point restores a state
//     by remembering two indices and truncating the arenas back to their sizes at the time;
//   - `used_[od]` counts the observations of observed-data `od` bound so far; it never exceeds
//     number_observed, so every bound observation is distinct (AND, FOLLOWEDBY and REPEATS
//     need different observations);
//   - an observation's time is unknown within [first_observed, last_observed] (section 9.1);
//     each constraint is satisfiable for intervals: FOLLOWEDBY asks last >= every earlier
//     first, WITHIN asks max(first) - min(last) < window, START/STOP asks the interval to meet
//     [start, stop);
//   - copies that are interchangeable (the copies of a REPEATS, identical operands of an AND)
//     bind observed-data in non-decreasing order of their first binding, which prunes the
//     permutations of one solution without losing any solution.

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/absl_compat.h"
#include "pattern/internal/compiled.h"
#include "pattern/print.h"

namespace liaison::pattern::internal {
namespace {

constexpr Nanos kMinTime = std::numeric_limits<int64_t>::min() * static_cast<Nanos>(4);
constexpr Nanos kMaxTime = std::numeric_limits<int64_t>::max() * static_cast<Nanos>(4);

struct Frame {
  enum class Kind : uint8_t { kWithin, kWindow, kFollow, kOrder };
  Kind kind;
  int parent;
  // kWithin: window, max first, min last. kWindow: start, stop. kFollow: bound, max first.
  Nanos a = 0, b = 0, c = 0;
  // kOrder: the smallest observed-data the copy may bind first, and what it did bind first.
  int64_t min_first = -1, first = -1;
};

struct Goal {
  enum class Kind : uint8_t { kMatch, kPopFrame, kRepeatNext, kAndNext, kFollowNext, kBulk };
  Kind kind;
  const ObservationNode* node = nullptr;
  int q = 0;        // kMatch, kRepeatNext: qualifiers of `node` still to apply
  int64_t n = 0;    // kRepeatNext: copies left; kAndNext, kFollowNext: next child; kBulk: left
  int32_t pos = 0;  // kBulk: next candidate position; kAndNext: 1 when an order frame is on
  int next = -1;
};

struct Assignment {
  int leaf;
  uint32_t od;
  int64_t count;
};

struct Choice {
  enum class Kind : uint8_t { kLeaf, kOr, kBulk };
  Kind kind;
  int goal;  // the goal being expanded
  int frames;
  size_t goals_size, frames_size, assignments_size;
  int64_t alt;   // kLeaf: next candidate position; kOr: next branch
  int64_t take;  // kBulk: next count to take at position `alt`
};

int64_t SaturatingMul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  if (a > std::numeric_limits<int64_t>::max() / b) return std::numeric_limits<int64_t>::max();
  return a * b;
}

class Solver {
 public:
  Solver(std::span<const std::vector<uint32_t>> candidates, const ObservationData& data,
         const SolverLimits& limits)
      : candidates_(candidates), data_(data), limits_(limits), used_(data.observed.size(), 0) {}

  Result<std::optional<std::vector<Binding>>> Run(const ObservationNode& root) {
    goal_ = Push({Goal::Kind::kMatch, &root, static_cast<int>(root.qualifiers.size())});
    frame_ = -1;
    while (true) {
      if (++steps_ > limits_.max_steps) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "the search for a binding of the observation expressions exceeded its budget of ",
            limits_.max_steps, " steps"));
      }
      if (goal_ < 0) return Bindings();
      if (static_cast<int64_t>(goals_.size() + frames_.size()) > limits_.max_cells) {
        return absl::ResourceExhaustedError(
            "the search for a binding of the observation expressions exceeded its memory budget");
      }
      const bool ok = Expand();
      if (!ok && !Backtrack()) return std::optional<std::vector<Binding>>();
    }
  }

 private:
  // ---- arenas ----

  int Push(Goal g, int next = -2) {
    if (next != -2) g.next = next;
    goals_.push_back(g);
    return static_cast<int>(goals_.size()) - 1;
  }
  int PushFrame(Frame f) {
    f.parent = frame_;
    frames_.push_back(f);
    return static_cast<int>(frames_.size()) - 1;
  }

  // ---- the search ----

  // Expands the first goal. Returns false when it cannot be met (the caller backtracks).
  bool Expand() {
    const Goal g = goals_[goal_];
    const int cont = g.next;
    switch (g.kind) {
      case Goal::Kind::kMatch:
        return Match(*g.node, g.q, cont);
      case Goal::Kind::kPopFrame:
        frame_ = frames_[frame_].parent;
        goal_ = cont;
        return true;
      case Goal::Kind::kRepeatNext: {
        const Frame& order = frames_[frame_];
        if (g.n == 0) {
          frame_ = order.parent;
          goal_ = cont;
          return true;
        }
        Frame next{Frame::Kind::kOrder, 0};
        next.min_first = order.first;
        const int parent = order.parent;
        frame_ = parent;
        frame_ = PushFrame(next);
        Goal again{Goal::Kind::kRepeatNext, g.node, g.q, g.n - 1};
        goal_ = Push({Goal::Kind::kMatch, g.node, g.q}, Push(again, cont));
        return true;
      }
      case Goal::Kind::kAndNext: {
        const ObservationNode& node = *g.node;
        int64_t previous_first = -1;
        if (g.pos == 1) {  // the previous operand ran inside an order frame
          previous_first = frames_[frame_].first;
          frame_ = frames_[frame_].parent;
        }
        const size_t i = static_cast<size_t>(g.n);
        if (i == node.children.size()) {
          goal_ = cont;
          return true;
        }
        const bool same = node.same_as_previous[i];
        const bool next_same = i + 1 < node.children.size() && node.same_as_previous[i + 1];
        Goal after{Goal::Kind::kAndNext, &node, 0, static_cast<int64_t>(i + 1)};
        if (same || next_same) {
          Frame order{Frame::Kind::kOrder, 0};
          order.min_first = same ? previous_first : -1;
          frame_ = PushFrame(order);
          after.pos = 1;
        }
        const ObservationNode& child = node.children[i];
        goal_ = Push({Goal::Kind::kMatch, &child, static_cast<int>(child.qualifiers.size())},
                     Push(after, cont));
        return true;
      }
      case Goal::Kind::kFollowNext: {
        const ObservationNode& node = *g.node;
        const Frame& follow = frames_[frame_];
        const size_t i = static_cast<size_t>(g.n);
        if (i == node.children.size()) {
          frame_ = follow.parent;
          goal_ = cont;
          return true;
        }
        // Everything bound from here on must be able to come at or after every earlier first
        // observation (section 9.5.2: b's timestamp >= a's).
        Frame next{Frame::Kind::kFollow, 0};
        next.a = follow.b;
        next.b = follow.b;
        frame_ = follow.parent;
        frame_ = PushFrame(next);
        const ObservationNode& child = node.children[i];
        Goal after{Goal::Kind::kFollowNext, &node, 0, static_cast<int64_t>(i + 1)};
        goal_ = Push({Goal::Kind::kMatch, &child, static_cast<int>(child.qualifiers.size())},
                     Push(after, cont));
        return true;
      }
      case Goal::Kind::kBulk: {
        if (g.n == 0) {
          goal_ = cont;
          return true;
        }
        Choice choice = MakeChoice(Choice::Kind::kBulk);
        choice.alt = g.pos;
        choice.take = -1;
        return TryBulk(choice);
      }
    }
    return false;
  }

  bool Match(const ObservationNode& node, int q, int cont) {
    if (q > 0) {
      const QualifierPlan& qual = node.qualifiers[q - 1];
      switch (qual.kind) {
        case Qualifier::Kind::kWithin: {
          Frame f{Frame::Kind::kWithin, 0, qual.window, kMinTime, kMaxTime};
          frame_ = PushFrame(f);
          goal_ = Push({Goal::Kind::kMatch, &node, q - 1}, Push({Goal::Kind::kPopFrame}, cont));
          return true;
        }
        case Qualifier::Kind::kStartStop: {
          Frame f{Frame::Kind::kWindow, 0, qual.start, qual.stop};
          frame_ = PushFrame(f);
          goal_ = Push({Goal::Kind::kMatch, &node, q - 1}, Push({Goal::Kind::kPopFrame}, cont));
          return true;
        }
        case Qualifier::Kind::kRepeats:
          return Repeat(node, q, cont);
      }
    }
    switch (node.kind) {
      case ObservationNode::Kind::kLeaf: {
        Choice choice = MakeChoice(Choice::Kind::kLeaf);
        choice.alt = 0;
        return TryLeaf(choice);
      }
      case ObservationNode::Kind::kAnd:
        goal_ = Push({Goal::Kind::kAndNext, &node, 0, 0}, cont);
        return true;
      case ObservationNode::Kind::kFollowedBy: {
        Frame f{Frame::Kind::kFollow, 0, kMinTime, kMinTime};
        frame_ = PushFrame(f);
        const ObservationNode& first = node.children[0];
        Goal after{Goal::Kind::kFollowNext, &node, 0, 1};
        goal_ = Push({Goal::Kind::kMatch, &first, static_cast<int>(first.qualifiers.size())},
                     Push(after, cont));
        return true;
      }
      case ObservationNode::Kind::kOr: {
        Choice choice = MakeChoice(Choice::Kind::kOr);
        choice.alt = 0;
        return TryOr(choice);
      }
    }
    return false;
  }

  // REPEATS k (section 9.5.1: "a" followed by "AND a", k-1 times).
  bool Repeat(const ObservationNode& node, int q, int cont) {
    int64_t times = node.qualifiers[q - 1].times;
    if (node.kind == ObservationNode::Kind::kLeaf) {
      // A plain observation repeated: bind its observations in bulk, so that REPEATS 1000000
      // over one observed-data with number_observed 1000000 is one step. Qualifiers below it
      // may be START/STOP (pushed as frames), further REPEATS (multiplied) and WITHIN on a
      // single observation (always true).
      bool bulk = true;
      bool repeated_below = false;
      for (int i = 0; i < q - 1; ++i) {
        const QualifierPlan& below = node.qualifiers[i];
        if (below.kind == Qualifier::Kind::kRepeats) {
          repeated_below = true;
          times = SaturatingMul(times, below.times);
        } else if (below.kind == Qualifier::Kind::kWithin && repeated_below) {
          bulk = false;
        }
      }
      if (bulk) {
        int next = cont;
        for (int i = 0; i < q - 1; ++i) {
          if (node.qualifiers[i].kind != Qualifier::Kind::kStartStop) continue;
          Frame f{Frame::Kind::kWindow, 0, node.qualifiers[i].start, node.qualifiers[i].stop};
          frame_ = PushFrame(f);
          next = Push({Goal::Kind::kPopFrame}, next);
        }
        goal_ = Push({Goal::Kind::kBulk, &node, 0, times, 0}, next);
        return true;
      }
    }
    // Each copy needs at least the observations of `node` under the qualifiers below.
    int64_t per_copy = node.base_observations;
    for (int i = 0; i < q - 1; ++i) {
      if (node.qualifiers[i].kind == Qualifier::Kind::kRepeats) {
        per_copy = SaturatingMul(per_copy, node.qualifiers[i].times);
      }
    }
    if (SaturatingMul(times, per_copy) > available_) return false;
    frame_ = PushFrame(Frame{Frame::Kind::kOrder, 0});
    Goal again{Goal::Kind::kRepeatNext, &node, q - 1, times - 1};
    goal_ = Push({Goal::Kind::kMatch, &node, q - 1}, Push(again, cont));
    return true;
  }

  Choice MakeChoice(Choice::Kind kind) {
    Choice c;
    c.kind = kind;
    c.goal = goal_;
    c.frames = frame_;
    c.goals_size = goals_.size();
    c.frames_size = frames_.size();
    c.assignments_size = assignments_.size();
    c.alt = 0;
    c.take = 0;
    return c;
  }

  void Restore(const Choice& c) {
    goal_ = c.goal;
    frame_ = c.frames;
    goals_.resize(c.goals_size);
    frames_.resize(c.frames_size);
    while (assignments_.size() > c.assignments_size) {
      used_[assignments_.back().od] -= assignments_.back().count;
      assignments_.pop_back();
    }
  }

  bool Backtrack() {
    while (!choices_.empty()) {
      Choice c = choices_.back();
      choices_.pop_back();
      Restore(c);
      bool ok = false;
      switch (c.kind) {
        case Choice::Kind::kLeaf:
          ok = TryLeaf(c);
          break;
        case Choice::Kind::kOr:
          ok = TryOr(c);
          break;
        case Choice::Kind::kBulk:
          ok = TryBulk(c);
          break;
      }
      if (ok) return true;
    }
    return false;
  }

  // Whether binding `count` observations of `od` meets every active frame.
  bool Admissible(uint32_t od, int64_t count) const {
    const ObservedDataRecord& r = data_.observed[od];
    if (used_[od] + count > r.number_observed) return false;
    bool first_of_copy = true;  // only the innermost unset order frame decides
    for (int f = frame_; f >= 0; f = frames_[f].parent) {
      const Frame& fr = frames_[f];
      switch (fr.kind) {
        case Frame::Kind::kWithin: {
          const Nanos max_first = std::max(fr.b, r.first);
          const Nanos min_last = std::min(fr.c, r.last);
          if (max_first - min_last >= fr.a) return false;  // span must be < window
          break;
        }
        case Frame::Kind::kWindow:
          if (!(r.first < fr.b && r.last >= fr.a)) return false;
          break;
        case Frame::Kind::kFollow:
          if (r.last < fr.a) return false;
          break;
        case Frame::Kind::kOrder:
          if (fr.first < 0 && first_of_copy && static_cast<int64_t>(od) < fr.min_first) {
            return false;
          }
          if (fr.first >= 0) first_of_copy = false;
          break;
      }
    }
    return true;
  }

  // Binds and rebuilds the frame list with updated running values.
  void Bind(int leaf, uint32_t od, int64_t count) {
    const ObservedDataRecord& r = data_.observed[od];
    used_[od] += count;
    assignments_.push_back({leaf, od, count});
    // Copy the active frames, innermost last, updating what this binding changes.
    std::vector<int> chain;
    for (int f = frame_; f >= 0; f = frames_[f].parent) chain.push_back(f);
    int parent = -1;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      Frame copy = frames_[*it];
      switch (copy.kind) {
        case Frame::Kind::kWithin:
          copy.b = std::max(copy.b, r.first);
          copy.c = std::min(copy.c, r.last);
          break;
        case Frame::Kind::kFollow:
          copy.b = std::max(copy.b, r.first);
          break;
        case Frame::Kind::kOrder:
          if (copy.first < 0) copy.first = od;
          break;
        case Frame::Kind::kWindow:
          break;
      }
      copy.parent = parent;
      frames_.push_back(copy);
      parent = static_cast<int>(frames_.size()) - 1;
    }
    frame_ = parent;
  }

  bool TryLeaf(Choice c) {
    const Goal g = goals_[c.goal];
    const std::vector<uint32_t>& cands = candidates_[g.node->leaf];
    for (size_t p = static_cast<size_t>(c.alt); p < cands.size(); ++p) {
      if (++steps_ > limits_.max_steps) return false;
      if (!Admissible(cands[p], 1)) continue;
      c.alt = static_cast<int64_t>(p) + 1;
      choices_.push_back(c);
      Bind(g.node->leaf, cands[p], 1);
      goal_ = g.next;
      return true;
    }
    return false;
  }

  bool TryOr(Choice c) {
    const Goal g = goals_[c.goal];
    const ObservationNode& node = *g.node;
    if (static_cast<size_t>(c.alt) >= node.children.size()) return false;
    const ObservationNode& child = node.children[c.alt];
    c.alt += 1;
    choices_.push_back(c);
    // Section 9.5: OR stops at the first operand that can be bound.
    goal_ = Push({Goal::Kind::kMatch, &child, static_cast<int>(child.qualifiers.size())}, g.next);
    return true;
  }

  bool TryBulk(Choice c) {
    const Goal g = goals_[c.goal];
    const std::vector<uint32_t>& cands = candidates_[g.node->leaf];
    const int64_t left = g.n;
    // Enough observations left at all?
    if (c.take < 0) {
      int64_t total = 0;
      for (size_t p = static_cast<size_t>(c.alt); p < cands.size() && total < left; ++p) {
        total += data_.observed[cands[p]].number_observed - used_[cands[p]];
      }
      if (total < left) return false;
    }
    for (size_t p = static_cast<size_t>(c.alt); p < cands.size(); ++p) {
      if (++steps_ > limits_.max_steps) return false;
      const uint32_t od = cands[p];
      // The time constraints do not depend on how many observations are taken: test once.
      if (!Admissible(od, 1)) {
        c.take = -1;
        continue;
      }
      const int64_t free = data_.observed[od].number_observed - used_[od];
      int64_t take = std::min(left, free);
      if (c.take > 0 && static_cast<int64_t>(p) == c.alt) take = std::min(take, c.take);
      if (take < 1) {
        c.take = -1;
        continue;
      }
      // The largest count first; on backtracking one fewer (the rest may be needed elsewhere).
      Choice next = c;
      next.alt = static_cast<int64_t>(p);
      next.take = take - 1;
      if (next.take == 0) {
        next.alt = static_cast<int64_t>(p) + 1;
        next.take = -1;
      }
      choices_.push_back(next);
      Bind(g.node->leaf, od, take);
      Goal rest{Goal::Kind::kBulk, g.node, 0, left - take, static_cast<int32_t>(p + 1)};
      goal_ = Push(rest, g.next);
      return true;
    }
    return false;
  }

  // The bindings by observation expression, then in binding order; one entry per
  // (observation expression, observed-data) with its count.
  std::vector<Binding> Bindings() const {
    std::vector<Assignment> sorted = assignments_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Assignment& x, const Assignment& y) { return x.leaf < y.leaf; });
    std::vector<Binding> out;
    size_t group = 0;  // first entry of the current observation expression in `out`
    for (const Assignment& a : sorted) {
      if (out.empty() || out.back().observation != static_cast<size_t>(a.leaf)) group = out.size();
      auto same = std::find_if(out.begin() + static_cast<ptrdiff_t>(group), out.end(),
                               [&](const Binding& b) { return b.observed_data == a.od; });
      if (same != out.end()) {
        same->count += a.count;
        continue;
      }
      Binding b;
      b.observation = static_cast<size_t>(a.leaf);
      b.observed_data = a.od;
      b.observed_data_id = std::string(data_.observed[a.od].id);
      b.count = a.count;
      out.push_back(std::move(b));
    }
    return out;
  }

 public:
  int64_t available_ = std::numeric_limits<int64_t>::max();

 private:
  std::span<const std::vector<uint32_t>> candidates_;
  const ObservationData& data_;
  SolverLimits limits_;
  std::vector<int64_t> used_;
  std::vector<Goal> goals_;
  std::vector<Frame> frames_;
  std::vector<Choice> choices_;
  std::vector<Assignment> assignments_;
  int goal_ = -1;
  int frame_ = -1;
  int64_t steps_ = 0;
};

Nanos WindowNanos(double seconds) {
  // Observation times are whole nanoseconds, so span < window is span < ceil(window).
  const long double ns = std::ceil(static_cast<long double>(seconds) * 1e9L);
  const long double cap = static_cast<long double>(kMaxTime);
  return ns >= cap ? kMaxTime : static_cast<Nanos>(ns);
}

Status Invalid(const Qualifier& q, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("offset ", q.offset, ": ", ToAbsl(what)));
}

Result<QualifierPlan> PlanQualifier(const Qualifier& q) {
  QualifierPlan p;
  p.kind = q.kind;
  switch (q.kind) {
    case Qualifier::Kind::kWithin:
      if (!(q.seconds > 0)) {
        return Invalid(q, "WITHIN needs a positive number of seconds (section 9.5.1)");
      }
      p.window = WindowNanos(q.seconds);
      break;
    case Qualifier::Kind::kRepeats:
      if (q.times < 1) return Invalid(q, "REPEATS needs a positive integer (section 9.5.1)");
      p.times = q.times;
      break;
    case Qualifier::Kind::kStartStop: {
      auto start = Timestamp::Parse(q.start);
      if (!start.ok()) {
        return Invalid(q, absl::StrCat("t'", q.start, "' is not a valid STIX timestamp: ",
                                       start.status().message()));
      }
      auto stop = Timestamp::Parse(q.stop);
      if (!stop.ok()) {
        return Invalid(q, absl::StrCat("t'", q.stop, "' is not a valid STIX timestamp: ",
                                       stop.status().message()));
      }
      p.start = ToNanos(*start);
      p.stop = ToNanos(*stop);
      break;
    }
  }
  return p;
}

Status PlanNode(const ObservationExpression& e, int& next_leaf, ObservationNode& out) {
  switch (e.kind) {
    case ObservationExpression::Kind::kObservation:
      out.kind = ObservationNode::Kind::kLeaf;
      out.leaf = next_leaf++;
      break;
    case ObservationExpression::Kind::kGroup: {
      // Parentheses only say what the qualifiers after them apply to.
      Status s = PlanNode(e.operands[0], next_leaf, out);
      if (!s.ok()) return s;
      break;
    }
    case ObservationExpression::Kind::kAnd:
    case ObservationExpression::Kind::kOr:
    case ObservationExpression::Kind::kFollowedBy:
      out.kind = e.kind == ObservationExpression::Kind::kAnd  ? ObservationNode::Kind::kAnd
                 : e.kind == ObservationExpression::Kind::kOr ? ObservationNode::Kind::kOr
                                                              : ObservationNode::Kind::kFollowedBy;
      for (const ObservationExpression& operand : e.operands) {
        ObservationNode child;
        Status s = PlanNode(operand, next_leaf, child);
        if (!s.ok()) return s;
        out.children.push_back(std::move(child));
      }
      break;
  }
  for (const Qualifier& q : e.qualifiers) {
    auto p = PlanQualifier(q);
    if (!p.ok()) return p.status();
    out.qualifiers.push_back(*p);
  }
  out.canonical = Print(e);  // a group's text overrides its operand's
  return absl::OkStatus();
}

// Fills symmetry flags and minimum observation counts, bottom up.
void Annotate(ObservationNode& node) {
  int64_t min = 1;
  switch (node.kind) {
    case ObservationNode::Kind::kLeaf:
      min = 1;
      break;
    case ObservationNode::Kind::kAnd:
    case ObservationNode::Kind::kFollowedBy:
      min = 0;
      for (ObservationNode& child : node.children) {
        Annotate(child);
        min = std::min<int64_t>(min + child.min_observations, int64_t{1} << 62);
      }
      break;
    case ObservationNode::Kind::kOr:
      min = std::numeric_limits<int64_t>::max();
      for (ObservationNode& child : node.children) {
        Annotate(child);
        min = std::min(min, child.min_observations);
      }
      break;
  }
  node.base_observations = min;
  for (const QualifierPlan& q : node.qualifiers) {
    if (q.kind == Qualifier::Kind::kRepeats) {
      min = std::min(SaturatingMul(min, q.times), int64_t{1} << 62);
    }
  }
  node.min_observations = min;
  if (node.kind == ObservationNode::Kind::kAnd) {
    node.same_as_previous.assign(node.children.size(), false);
    for (size_t i = 1; i < node.children.size(); ++i) {
      node.same_as_previous[i] = !node.children[i].canonical.empty() &&
                                 node.children[i].canonical == node.children[i - 1].canonical;
    }
  }
}

}  // namespace

Result<ObservationNode> PlanObservationTree(const ObservationExpression& root) {
  ObservationNode node;
  int next_leaf = 0;
  Status s = PlanNode(root, next_leaf, node);
  if (!s.ok()) return s;
  Annotate(node);
  return node;
}

Result<std::optional<std::vector<Binding>>> Solve(const ObservationNode& root,
                                                  std::span<const std::vector<uint32_t>> candidates,
                                                  const ObservationData& data,
                                                  const SolverLimits& limits) {
  int64_t available = 0;
  for (const ObservedDataRecord& od : data.observed) {
    available = std::min<int64_t>(available + od.number_observed, int64_t{1} << 62);
  }
  if (root.min_observations > available) return std::optional<std::vector<Binding>>();
  Solver solver(candidates, data, limits);
  solver.available_ = available;
  return solver.Run(root);
}

}  // namespace liaison::pattern::internal
