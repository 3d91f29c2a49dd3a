// The master simulation (tests/sim/master_sim.h): the shipping MasterCore and agent lease
// and dataset logic over thousands of seeds, and the same simulation with deliberately
// broken rules, to show that its checker can fail.
//
// Replay one seed with a step-by-step trace (BERTH_SIM_FLAW takes a MasterSimFlaw's number):
//   BERTH_SIM_SEED=1234 master_sim_test --gtest_filter=MasterSim.ReplaysOneSeed
// Run more or other seeds: BERTH_SIM_SEEDS=20000 BERTH_SIM_FIRST_SEED=5001 (the shards below
// split the default range so ctest can run them side by side).
#include "tests/sim/master_sim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace berth::sim {
namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::strtoull(value, nullptr, 10) : fallback;
}

MasterSimConfig config_for(uint64_t seed, MasterSimFlaw flaw = MasterSimFlaw::kNone) {
  MasterSimConfig config;
  config.seed = seed;
  config.flaw = flaw;
  return config;
}

void add(MasterSimResult& total, const MasterSimResult& result) {
  total.steps += result.steps;
  total.writer_starts += result.writer_starts;
  total.fences += result.fences;
  total.supervisor_kills += result.supervisor_kills;
  total.moves_accepted += result.moves_accepted;
  total.moves_refused += result.moves_refused;
  total.attaches += result.attaches;
  total.registrations += result.registrations;
  total.task_launches += result.task_launches;
  total.task_moves += result.task_moves;
  total.agent_pauses += result.agent_pauses;
  total.agent_crashes += result.agent_crashes;
  total.partitions += result.partitions;
  total.master_restarts += result.master_restarts;
  total.master_failovers += result.master_failovers;
  total.deposed_answers += result.deposed_answers;
  total.deposed_writes_refused += result.deposed_writes_refused;
}

// Seeds [first, first + count) with no flaw: none may break a rule.
void run_seeds(uint64_t first, uint64_t count) {
  first = env_or("BERTH_SIM_FIRST_SEED", first);
  count = env_or("BERTH_SIM_SEEDS", count);
  MasterSimResult total;
  int failures = 0;
  for (uint64_t seed = first; seed < first + count && failures < 5; ++seed) {
    MasterSimResult result = run_master_sim(config_for(seed));
    if (result.violation) {
      ++failures;
      ADD_FAILURE() << *result.violation << "\nreplay: BERTH_SIM_SEED=" << seed
                    << " master_sim_test --gtest_filter=MasterSim.ReplaysOneSeed";
    }
    add(total, result);
  }
  std::cout << "seeds " << first << ".." << first + count - 1 << ": " << total.steps << " steps, "
            << total.registrations << " registrations, " << total.attaches << " attaches, "
            << total.writer_starts << " writer starts, " << total.task_launches
            << " app task launches (" << total.task_moves << " on another node), "
            << total.moves_accepted << " moves accepted, " << total.moves_refused << " refused, "
            << total.fences << " fences, " << total.supervisor_kills << " supervisor kills, "
            << total.agent_pauses << " pauses, " << total.agent_crashes << " agent crashes, "
            << total.partitions << " partitions, " << total.master_restarts << " master restarts, "
            << total.master_failovers << " failovers (" << total.deposed_answers
            << " requests answered by a deposed master, " << total.deposed_writes_refused
            << " of its writes refused)\n";
  // The runs must exercise what they claim to check, or passing means nothing.
  EXPECT_GT(total.moves_accepted, count);
  EXPECT_GT(total.task_launches, count) << "the app's task runs in every seed";
  EXPECT_GT(total.task_moves, count / 4) << "and moves with its dataset in many";
  EXPECT_GT(total.writer_starts, count);
  EXPECT_GT(total.fences, count / 2);
  EXPECT_GT(total.supervisor_kills, count / 4);
  EXPECT_GT(total.agent_pauses, count / 2);
  EXPECT_GT(total.agent_crashes, count / 4);
  EXPECT_GT(total.master_restarts, count / 4);
  EXPECT_GT(total.master_failovers, count / 4);
  EXPECT_GT(total.deposed_answers, count / 4) << "a deposed master answers in many failovers";
  EXPECT_GT(total.deposed_writes_refused, count / 20) << "and tries to write in some";
}

TEST(MasterSim, NoDatasetIsWrittenFromTwoNodesSeeds1To2500) { run_seeds(1, 2500); }
TEST(MasterSim, NoDatasetIsWrittenFromTwoNodesSeeds2501To5000) { run_seeds(2501, 2500); }
TEST(MasterSim, NoDatasetIsWrittenFromTwoNodesSeeds5001To7500) { run_seeds(5001, 2500); }
TEST(MasterSim, NoDatasetIsWrittenFromTwoNodesSeeds7501To10000) { run_seeds(7501, 2500); }

TEST(MasterSim, TheSameSeedGivesTheSameRun) {
  MasterSimResult a = run_master_sim(config_for(42));
  MasterSimResult b = run_master_sim(config_for(42));
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.writer_starts, b.writer_starts);
  EXPECT_EQ(a.moves_accepted, b.moves_accepted);
  EXPECT_EQ(a.fences, b.fences);
  EXPECT_EQ(a.master_failovers, b.master_failovers);
  EXPECT_EQ(a.deposed_answers, b.deposed_answers);
  EXPECT_EQ(a.deposed_writes_refused, b.deposed_writes_refused);
}

TEST(MasterSim, ReplaysOneSeed) {
  const char* seed = std::getenv("BERTH_SIM_SEED");
  if (seed == nullptr) GTEST_SKIP() << "set BERTH_SIM_SEED to replay one seed with a trace";
  MasterSimConfig config = config_for(std::strtoull(seed, nullptr, 10),
                                      static_cast<MasterSimFlaw>(env_or("BERTH_SIM_FLAW", 0)));
  config.trace = [](const std::string& line) { std::cout << line << "\n"; };
  MasterSimResult result = run_master_sim(config);
  EXPECT_FALSE(result.violation.has_value()) << *result.violation;
}

// The first run over seeds 1..max_seeds whose violation contains `what`, if any.
std::optional<std::string> first_violation(MasterSimConfig config, uint64_t max_seeds,
                                           const std::string& what = "is written from") {
  for (uint64_t seed = 1; seed <= max_seeds; ++seed) {
    config.seed = seed;
    MasterSimResult result = run_master_sim(config);
    if (result.violation && result.violation->find(what) != std::string::npos)
      return result.violation;
  }
  return std::nullopt;
}

// The checker can fail: each broken rule below lets some seed write a dataset from two nodes,
// or change the store other than through the leader.

TEST(MasterSim, CatchesALeaseCountedFromWhenTheAnswerArrived) {
  auto found = first_violation(config_for(0, MasterSimFlaw::kLeaseFromAckArrival), 1000);
  ASSERT_TRUE(found.has_value());
  std::cout << "found: " << *found << "\n";
}

TEST(MasterSim, CatchesWritersWithoutSupervisors) {
  auto found = first_violation(config_for(0, MasterSimFlaw::kNoSupervisor), 1000);
  ASSERT_TRUE(found.has_value());
  std::cout << "found: " << *found << "\n";
}

TEST(MasterSim, CatchesADeposedLeaderWritingTheStore) {
  auto found = first_violation(config_for(0, MasterSimFlaw::kUnfencedDeposedLeader), 200,
                               "writes of a deposed master went through");
  ASSERT_TRUE(found.has_value());
  std::cout << "found: " << *found << "\n";
}

// The same flaw, caught by what its writes do to the store: the deposed master writes a
// dataset from its stale view, and a master that loads the store later (or the audit at the
// end) finds an epoch lower than one a leader had shown.
TEST(MasterSim, CatchesWhatADeposedLeadersWritesDoToTheStore) {
  MasterSimConfig config = config_for(0, MasterSimFlaw::kUnfencedDeposedLeader);
  config.check_store_writers = false;
  auto found = first_violation(config, 300, "went back from epoch");
  ASSERT_TRUE(found.has_value());
  std::cout << "found: " << *found << "\n";
}

}  // namespace
}  // namespace berth::sim
