// berth::json::parse, the bounded reader every parser of outside bytes goes through. Whatever
// parses must serialise, and parse back to the same value.
#include "fuzz_input.h"
#include "json/bounded.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth;
  Result<nlohmann::json> parsed = json::parse(fuzz::as_text(data, size));
  if (!parsed.ok()) {
    fuzz::require(!parsed.error().message.empty(), "a refusal says why");
    return 0;
  }
  std::string text = json::dump(*parsed);
  Result<nlohmann::json> again = json::parse(text);
  fuzz::require(again.ok(), "what parse() gave serialises to JSON that parses");
  fuzz::require(again.ok() && *again == *parsed, "dump then parse gives the same value");
  return 0;
}
