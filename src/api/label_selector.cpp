#include "api/label_selector.h"

#include <algorithm>

namespace berth::api {
namespace {

// Reads from `text` at `*at`: whitespace skipped, then a word of unescaped [-A-Za-z0-9_.] and
// backslash-escaped characters.
std::string read_word(const std::string& text, size_t* at) {
  while (*at < text.size() && text[*at] == ' ') ++*at;
  std::string word;
  while (*at < text.size()) {
    char c = text[*at];
    if (c == '\\' && *at + 1 < text.size()) {
      word += text[*at + 1];
      *at += 2;
      continue;
    }
    bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    if (!plain) break;
    word += c;
    ++*at;
  }
  while (*at < text.size() && text[*at] == ' ') ++*at;
  return word;
}

// The selectors of `text`, split at commas outside parentheses and not escaped.
std::vector<std::string> split_terms(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      current += c;
      current += text[++i];
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  out.push_back(current);
  return out;
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(const std::string& text) {
  LabelSelector selector;
  for (const std::string& term_text : split_terms(text)) {
    auto invalid = [&] {
      return make_error(
          ErrorCode::kInvalidArgument,
          "Invalid label selector '" + term_text +
              "': use key, key==value, key!=value, key in (a, b) or key notin (a, b)");
    };
    size_t at = 0;
    Term term;
    term.key = read_word(term_text, &at);
    if (term.key.empty()) return invalid();
    if (at == term_text.size()) {
      selector.terms_.push_back(term);
      continue;
    }
    std::string rest = term_text.substr(at);
    if (rest.rfind("==", 0) == 0 || rest.rfind("!=", 0) == 0) {
      term.op = rest[0] == '=' ? Term::Op::kEquals : Term::Op::kNotEquals;
      size_t value_at = at + 2;
      term.values.push_back(read_word(term_text, &value_at));
      if (value_at != term_text.size()) return invalid();
      selector.terms_.push_back(term);
      continue;
    }
    std::string op = read_word(term_text, &at);
    if ((op != "in" && op != "notin") || at >= term_text.size() || term_text[at] != '(')
      return invalid();
    term.op = op == "in" ? Term::Op::kIn : Term::Op::kNotIn;
    ++at;
    while (true) {
      term.values.push_back(read_word(term_text, &at));
      if (at < term_text.size() && term_text[at] == ',') {
        ++at;
        continue;
      }
      break;
    }
    if (at >= term_text.size() || term_text[at] != ')') return invalid();
    ++at;
    while (at < term_text.size() && term_text[at] == ' ') ++at;
    if (at != term_text.size()) return invalid();
    selector.terms_.push_back(term);
  }
  return selector;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  for (const Term& t : terms_) {
    auto it = labels.find(t.key);
    bool has = it != labels.end();
    auto listed = [&] {
      return has && std::find(t.values.begin(), t.values.end(), it->second) != t.values.end();
    };
    switch (t.op) {
      case Term::Op::kExists:
        if (!has) return false;
        break;
      case Term::Op::kEquals:
        if (!has || it->second != t.values[0]) return false;
        break;
      case Term::Op::kNotEquals:
        if (has && it->second == t.values[0]) return false;
        break;
      case Term::Op::kIn:
        if (!listed()) return false;
        break;
      case Term::Op::kNotIn:
        if (listed()) return false;
        break;
    }
  }
  return true;
}

}  // namespace berth::api
