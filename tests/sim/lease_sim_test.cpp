// The lease simulation (tests/sim/lease_sim.h) over thousands of seeds, and the same
// simulation with deliberately broken rules to show that its checker can fail.
//
// Replay one seed with a step-by-step trace:
//   BERTH_SIM_SEED=1234 ./lease_sim_test --gtest_filter=LeaseSim.ReplaysOneSeed
// Run more or other seeds: BERTH_SIM_SEEDS=20000 BERTH_SIM_FIRST_SEED=1.
#include "tests/sim/lease_sim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>

namespace berth::sim {
namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::strtoull(value, nullptr, 10) : fallback;
}

LeaseSimConfig config_for(uint64_t seed, Flaw flaw = Flaw::kNone) {
  LeaseSimConfig config;
  config.seed = seed;
  config.flaw = flaw;
  return config;
}

std::string replay_hint(uint64_t seed) {
  return "replay: BERTH_SIM_SEED=" + std::to_string(seed) +
         " lease_sim_test --gtest_filter=LeaseSim.ReplaysOneSeed";
}

TEST(LeaseSim, NoDatasetIsEverWrittenFromTwoNodesAcrossThousandsOfSeeds) {
  const uint64_t first = env_or("BERTH_SIM_FIRST_SEED", 1);
  const uint64_t seeds = env_or("BERTH_SIM_SEEDS", 2000);
  LeaseSimResult total;
  int failures = 0;
  for (uint64_t seed = first; seed < first + seeds && failures < 5; ++seed) {
    LeaseSimResult result = run_lease_sim(config_for(seed));
    if (result.violation) {
      ++failures;
      ADD_FAILURE() << *result.violation << "\n" << replay_hint(seed);
    }
    total.steps += result.steps;
    total.writer_starts += result.writer_starts;
    total.fences += result.fences;
    total.supervisor_kills += result.supervisor_kills;
    total.moves += result.moves;
    total.agent_pauses += result.agent_pauses;
    total.agent_crashes += result.agent_crashes;
    total.partitions += result.partitions;
    total.master_restarts += result.master_restarts;
  }
  std::cout << seeds << " seeds: " << total.steps << " steps, " << total.writer_starts
            << " writer starts, " << total.moves << " moves after a loss, " << total.fences
            << " fences, " << total.supervisor_kills << " supervisor kills, "
            << total.agent_pauses << " pauses, " << total.agent_crashes << " agent crashes, "
            << total.partitions << " partitions, " << total.master_restarts
            << " master restarts\n";
  // The run must exercise what it claims to check, or passing means nothing.
  EXPECT_GT(total.moves, seeds);
  EXPECT_GT(total.fences, seeds);
  EXPECT_GT(total.supervisor_kills, seeds / 10);
  EXPECT_GT(total.master_restarts, seeds);
}

TEST(LeaseSim, TheSameSeedGivesTheSameRun) {
  LeaseSimResult a = run_lease_sim(config_for(42));
  LeaseSimResult b = run_lease_sim(config_for(42));
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.writer_starts, b.writer_starts);
  EXPECT_EQ(a.moves, b.moves);
  EXPECT_EQ(a.violation, b.violation);
}

// The first seed, up to `max_seeds`, for which the checker reports a violation.
std::optional<std::string> first_violation(Flaw flaw, uint64_t max_seeds) {
  for (uint64_t seed = 1; seed <= max_seeds; ++seed) {
    LeaseSimResult result = run_lease_sim(config_for(seed, flaw));
    if (result.violation) return result.violation;
  }
  return std::nullopt;
}

TEST(LeaseSim, CatchesALeaseCountedFromWhenTheAnswerArrived) {
  std::optional<std::string> found = first_violation(Flaw::kLeaseFromAckArrival, 500);
  ASSERT_TRUE(found.has_value());
  std::cout << "found: " << *found << "\n";
}

TEST(LeaseSim, ReplaysOneSeed) {
  const char* seed = std::getenv("BERTH_SIM_SEED");
  if (seed == nullptr) GTEST_SKIP() << "set BERTH_SIM_SEED to replay one seed with a trace";
  LeaseSimConfig config =
      config_for(std::strtoull(seed, nullptr, 10), static_cast<Flaw>(env_or("BERTH_SIM_FLAW", 0)));
  config.trace = [](const std::string& line) { std::cout << line << "\n"; };
  LeaseSimResult result = run_lease_sim(config);
  EXPECT_FALSE(result.violation.has_value()) << *result.violation;
}

TEST(LeaseSim, Explore2) {
  struct V { Flaw flaw; double drift; uint64_t seeds; };
  for (V v : {V{Flaw::kNoMargin, 0.01, 20000}, V{Flaw::kNoMargin, 0.03, 2000}, V{Flaw::kNoMargin, 0.05, 2000}, V{Flaw::kNone, 0.1, 2000}, V{Flaw::kNone, 0.2, 2000}}) {
    int count = 0; std::string firsts;
    for (uint64_t seed = 1; seed <= v.seeds; ++seed) {
      LeaseSimConfig config = config_for(seed, v.flaw);
      config.max_drift = v.drift;
      LeaseSimResult result = run_lease_sim(config);
      if (result.violation) { if (count < 3) firsts += *result.violation + "\n"; ++count; }
    }
    std::cout << static_cast<int>(v.flaw) << " drift " << v.drift << ": " << count << " seeds\n" << firsts;
  }
}

TEST(LeaseSim, Explore) {
  for (Flaw flaw : {Flaw::kLeaseFromAckArrival, Flaw::kNoMargin, Flaw::kNoRestartGrace, Flaw::kVolatileFenceMemory}) {
    int count = 0, overlaps = 0; std::string firsts;
    for (uint64_t seed = 1; seed <= 2000; ++seed) {
      LeaseSimResult result = run_lease_sim(config_for(seed, flaw));
      if (result.violation) { if (count < 3) firsts += *result.violation + "\n"; ++count; overlaps += result.violation->find("at once") != std::string::npos; }
    }
    std::cout << static_cast<int>(flaw) << ": " << count << " seeds, overlaps " << overlaps << "\n" << firsts;
  }
}

}  // namespace
}  // namespace berth::sim
