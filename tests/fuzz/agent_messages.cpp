// The master <-> agent protocol messages (protocol/messages.h) as both ends read them:
// berth::json::parse, then .get<Message>() inside a catch of nlohmann's exceptions (its type
// errors are the edge's contract). Any other exception, or a crash, is a finding. A message
// that reads must serialise and read back.
#include "fuzz_input.h"
#include "json/bounded.h"
#include "protocol/messages.h"

namespace {

using namespace berth;

template <typename Message>
void read_as(const nlohmann::json& body) {
  Message message;
  try {
    message = body.get<Message>();
  } catch (const nlohmann::json::exception&) {
    return;
  }
  nlohmann::json written = message;
  std::string text = json::dump(written);
  Result<nlohmann::json> again = json::parse(text);
  fuzz::require(again.ok(), "a message that read serialises to JSON that parses");
  try {
    again->get<Message>();
  } catch (const nlohmann::json::exception&) {
    fuzz::require(false, "a message written by to_json reads back");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<nlohmann::json> body = json::parse(fuzz::as_text(data, size));
  if (!body.ok()) return 0;
  read_as<protocol::RegisterRequest>(*body);
  read_as<protocol::RegisterResponse>(*body);
  read_as<protocol::Heartbeat>(*body);
  read_as<protocol::HeartbeatAck>(*body);
  read_as<protocol::StatusBatch>(*body);
  read_as<protocol::StatusAck>(*body);
  read_as<protocol::Command>(*body);
  read_as<protocol::CommandBatch>(*body);
  return 0;
}
