#include "http/connection_book.h"

#include <gtest/gtest.h>

namespace berth::http::internal {
namespace {

ConnectionBook::Limits small_limits() {
  ConnectionBook::Limits limits;
  limits.max_open = 10;
  limits.max_idle = 4;
  limits.max_idle_per_client = 2;
  limits.max_busy = 3;
  limits.max_busy_per_client = 2;
  return limits;
}

// Adds connections the way the engine does: make room, close the victims, add.
void connect(ConnectionBook& book, uint64_t id, const std::string& client,
             std::vector<uint64_t>* evicted) {
  while (true) {
    auto room = book.make_room(client);
    if (room.kind == ConnectionBook::Room::kAdmit) break;
    ASSERT_EQ(room.kind, ConnectionBook::Room::kEvict);
    evicted->push_back(room.victim);
    book.remove(room.victim);
  }
  book.add(id, client);
}

}  // namespace

TEST(ConnectionBook, ANewConnectionDisplacesTheOldestIdleOneOfItsOwnClient) {
  ConnectionBook book(small_limits());
  std::vector<uint64_t> evicted;
  connect(book, 1, "a", &evicted);
  connect(book, 2, "b", &evicted);
  connect(book, 3, "a", &evicted);
  connect(book, 4, "a", &evicted);  // "a" is at its limit of 2: its oldest goes, not "b"'s
  EXPECT_EQ(evicted, std::vector<uint64_t>{1});
  EXPECT_EQ(book.idle_count("a"), 2u);
  EXPECT_EQ(book.idle_count("b"), 1u);
}

TEST(ConnectionBook, AFullIdleSetDisplacesTheOldestIdleConnectionOverall) {
  ConnectionBook book(small_limits());
  std::vector<uint64_t> evicted;
  connect(book, 1, "a", &evicted);
  connect(book, 2, "b", &evicted);
  connect(book, 3, "c", &evicted);
  connect(book, 4, "d", &evicted);
  connect(book, 5, "e", &evicted);
  EXPECT_EQ(evicted, std::vector<uint64_t>{1});
  EXPECT_EQ(book.idle_count(), 4u);
}

TEST(ConnectionBook, KeepAliveMakesAConnectionTheNewestIdleOne) {
  ConnectionBook book(small_limits());
  std::vector<uint64_t> evicted;
  connect(book, 1, "a", &evicted);
  connect(book, 2, "a", &evicted);
  ASSERT_TRUE(book.try_busy(1));
  book.idle(1);  // answered, waits for its next request
  connect(book, 3, "a", &evicted);
  EXPECT_EQ(evicted, std::vector<uint64_t>{2});
}

TEST(ConnectionBook, BusyConnectionsAreNeverDisplacedAndPastTheLimitNewOnesAreRefused) {
  auto limits = small_limits();
  limits.max_open = 3;
  ConnectionBook book(limits);
  std::vector<uint64_t> evicted;
  for (uint64_t id = 1; id <= 3; ++id) {
    connect(book, id, "client" + std::to_string(id), &evicted);
    ASSERT_TRUE(book.try_busy(id));
  }
  EXPECT_EQ(book.make_room("x").kind, ConnectionBook::Room::kRefuse);
  book.idle(2);
  auto room = book.make_room("x");
  EXPECT_EQ(room.kind, ConnectionBook::Room::kEvict);
  EXPECT_EQ(room.victim, 2u);
}

TEST(ConnectionBook, BusyLimitsApplyOverallAndPerClient) {
  ConnectionBook book(small_limits());
  std::vector<uint64_t> evicted;
  connect(book, 1, "a", &evicted);
  connect(book, 2, "a", &evicted);
  ASSERT_TRUE(book.try_busy(1));
  ASSERT_TRUE(book.try_busy(2));
  connect(book, 3, "a", &evicted);
  EXPECT_FALSE(book.try_busy(3)) << "client a is at its busy limit of 2";
  EXPECT_EQ(book.busy_count("a"), 2u);
  EXPECT_EQ(book.open_count(), 3u) << "a refused connection stays open while it is answered";
  connect(book, 4, "b", &evicted);
  EXPECT_TRUE(book.try_busy(4));
  connect(book, 5, "c", &evicted);
  EXPECT_FALSE(book.try_busy(5)) << "the server is at its busy limit of 3";
  book.remove(1);
  connect(book, 6, "c", &evicted);
  EXPECT_TRUE(book.try_busy(6));
  EXPECT_TRUE(evicted.empty());
}

TEST(ConnectionBook, ReservedSlotsServeOnlyTheRequestsAllowedThemAndAreGivenBack) {
  ConnectionBook::Limits limits = small_limits();
  limits.max_reserved_busy = 1;
  ConnectionBook book(limits);
  std::vector<uint64_t> evicted;
  // Each connection's request arrives before the next connection opens.
  connect(book, 1, "a", &evicted);
  ASSERT_TRUE(book.try_busy(1));
  connect(book, 2, "a", &evicted);
  ASSERT_TRUE(book.try_busy(2));
  connect(book, 3, "a", &evicted);
  EXPECT_FALSE(book.try_busy(3)) << "an ordinary request past client a's busy limit";
  connect(book, 4, "a", &evicted);
  EXPECT_TRUE(book.try_busy(4, true)) << "a reserved request takes the free reserved slot";
  EXPECT_EQ(book.reserved_busy_count(), 1u);
  EXPECT_EQ(book.busy_count("a"), 2u) << "a reserved slot is not counted against the client";
  connect(book, 5, "a", &evicted);
  EXPECT_FALSE(book.try_busy(5, true)) << "the one reserved slot is taken";
  book.idle(4);  // answered: keep-alive gives the slot back
  EXPECT_EQ(book.reserved_busy_count(), 0u);
  connect(book, 6, "a", &evicted);
  EXPECT_TRUE(book.try_busy(6, true));
  book.remove(6);
  EXPECT_EQ(book.reserved_busy_count(), 0u);
  book.remove(1);
  connect(book, 7, "a", &evicted);
  EXPECT_TRUE(book.try_busy(7, true))
      << "within the limits a reserved request takes an ordinary slot";
  EXPECT_EQ(book.reserved_busy_count(), 0u);
  EXPECT_EQ(book.busy_count("a"), 2u);
  EXPECT_TRUE(evicted.empty());
}

TEST(ConnectionBook, DeferredConnectionsGiveTheirBusySlotBackButStayOpenAndAreNeverDisplaced) {
  auto limits = small_limits();
  limits.max_open = 4;
  limits.max_reserved_busy = 1;
  ConnectionBook book(limits);
  std::vector<uint64_t> evicted;
  for (uint64_t id = 1; id <= 3; ++id) {
    connect(book, id, "a", &evicted);
    ASSERT_TRUE(book.try_busy(id, true)) << id;
    book.defer(id);
  }
  EXPECT_EQ(book.deferred_count(), 3u);
  EXPECT_EQ(book.busy_count(), 0u);
  EXPECT_EQ(book.busy_count("a"), 0u) << "client a's busy limit of 2 did not stop a third";
  EXPECT_EQ(book.reserved_busy_count(), 0u);
  connect(book, 4, "b", &evicted);
  EXPECT_EQ(book.make_room("c").kind, ConnectionBook::Room::kEvict) << "b's idle one goes";
  ASSERT_TRUE(book.try_busy(4));
  EXPECT_EQ(book.make_room("c").kind, ConnectionBook::Room::kRefuse)
      << "deferred connections count against max_open and are not displaced";
  book.idle(2);  // answered: keep-alive
  EXPECT_EQ(book.deferred_count(), 2u);
  auto room = book.make_room("c");
  EXPECT_EQ(room.kind, ConnectionBook::Room::kEvict);
  EXPECT_EQ(room.victim, 2u);
  book.remove(1);
  book.closing(3);
  EXPECT_EQ(book.deferred_count(), 0u);
  EXPECT_TRUE(evicted.empty());
}

TEST(ConnectionBook, RemovingForgetsAClientWithNoConnections) {
  ConnectionBook book(small_limits());
  book.add(1, "a");
  book.closing(1);
  EXPECT_EQ(book.idle_count(), 0u);
  book.remove(1);
  book.remove(1);  // unknown now: ignored
  EXPECT_EQ(book.open_count(), 0u);
  EXPECT_EQ(book.idle_count("a"), 0u);
}

}  // namespace berth::http::internal
