#include "byte_level_bpe.h"

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tokenizer_common.h"

namespace avgzsl::preprocessing::byte_level_bpe {

using tokenizer_common::fail;

std::vector<std::pair<unsigned char, std::string>> byte_symbols() {
  auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  std::vector<std::pair<unsigned char, char32_t>> table;
  for (int b = 0; b < 256; ++b) {
    if (printable(b)) table.emplace_back(static_cast<unsigned char>(b), static_cast<char32_t>(b));
  }
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    if (!printable(b)) table.emplace_back(static_cast<unsigned char>(b), next++);
  }
  std::vector<std::pair<unsigned char, std::string>> out;
  out.reserve(table.size());
  for (const auto& [byte, cp] : table) {
    std::string symbol;
    tokenizer_common::append_utf8(symbol, cp);
    out.emplace_back(byte, std::move(symbol));
  }
  return out;
}

Vocabulary read_vocab_json(const std::filesystem::path& path) {
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(tokenizer_common::read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("invalid JSON: ") + e.what());
  }
  if (!vocab.is_object()) fail(path, "expected a JSON object token -> id");
  Vocabulary encoder;
  std::unordered_map<std::int64_t, std::string> tokens_by_id;
  encoder.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
        id.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
      fail(path, "token '" + token + "': id is not an integer in [0, 2^31)");
    }
    const auto value = id.get<std::int64_t>();
    // An id must name one token, or ids could not be turned back into text.
    const auto [it, inserted] = tokens_by_id.emplace(value, token);
    if (!inserted) {
      fail(path, "tokens '" + it->second + "' and '" + token + "' share id " +
                     std::to_string(value));
    }
    encoder.emplace(token, value);
  }
  return encoder;
}

std::int64_t vocab_size(const Vocabulary& vocab) {
  std::int64_t size = 0;
  for (const auto& [token, id] : vocab) size = std::max(size, id + 1);
  return size;
}

// No anonymous namespace: the library compiles in unity batches, where those of two files merge.
std::vector<std::string_view> split_ascii_whitespace(std::string_view line) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  while (i < line.size()) {
    while (i < line.size() && space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !space(line[i])) ++i;
    if (i > start) parts.push_back(line.substr(start, i - start));
  }
  return parts;
}

std::vector<MergeLine> parse_merges(const std::filesystem::path& path, std::string_view text,
                                    std::size_t max_lines) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos <= text.size() && lines.size() < max_lines) {
    const std::size_t eol = std::min(text.find('\n', pos), text.size());
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  if (lines.empty() || lines[0].find("#version") == std::string_view::npos) {
    fail(path, "line 1 is not a '#version' header");
  }
  while (lines.size() > 1 && split_ascii_whitespace(lines.back()).empty()) lines.pop_back();
  std::vector<MergeLine> merges;
  merges.reserve(lines.size());
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto parts = split_ascii_whitespace(lines[i]);
    if (parts.size() != 2) {
      fail(path, "line " + std::to_string(i + 1) + ": expected two symbols separated by a space");
    }
    merges.push_back({std::string(parts[0]), std::string(parts[1]), i + 1});
  }
  return merges;
}

Encoder::Encoder(const Vocabulary& vocab, const std::vector<MergeLine>& merges,
                 const std::string& end_of_word, std::int64_t unknown_id) {
  std::unordered_map<std::string, std::int32_t> symbols;
  symbols.reserve(512 + merges.size());
  auto intern = [&](const std::string& symbol) {
    const auto [it, inserted] = symbols.emplace(symbol, static_cast<std::int32_t>(symbols.size()));
    if (inserted) {
      const auto found = vocab.find(symbol);
      symbol_id_.push_back(found == vocab.end() ? unknown_id : found->second);
    }
    return it->second;
  };
  for (const auto& [byte, symbol] : byte_symbols()) {
    byte_symbol_[byte] = intern(symbol);
    last_byte_symbol_[byte] = intern(symbol + end_of_word);
  }
  merges_.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const MergeLine& m = merges[rank];
    const std::int32_t left = intern(m.left);
    const std::int32_t right = intern(m.right);
    merges_[pair_key(left, right)] = {static_cast<int>(rank), intern(m.left + m.right)};
  }
}

std::vector<std::int32_t> Encoder::merge_symbols(std::string_view word) const {
  std::vector<std::int32_t> symbols;
  symbols.reserve(word.size());
  for (std::size_t i = 0; i < word.size(); ++i) {
    const auto byte = static_cast<unsigned char>(word[i]);
    symbols.push_back(i + 1 == word.size() ? last_byte_symbol_[byte] : byte_symbol_[byte]);
  }
  std::vector<std::int32_t> merged;
  merged.reserve(symbols.size());
  while (symbols.size() > 1) {
    const Merge* best = nullptr;
    std::uint64_t best_key = 0;
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
      const std::uint64_t key = pair_key(symbols[i], symbols[i + 1]);
      const auto it = merges_.find(key);
      if (it != merges_.end() && (best == nullptr || it->second.rank < best->rank)) {
        best = &it->second;
        best_key = key;
      }
    }
    if (best == nullptr) break;
    merged.clear();
    for (std::size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && pair_key(symbols[i], symbols[i + 1]) == best_key) {
        merged.push_back(best->merged);
        i += 2;
      } else {
        merged.push_back(symbols[i]);
        i += 1;
      }
    }
    symbols.swap(merged);
  }
  return symbols;
}

void Encoder::encode_word(std::string_view word, std::vector<std::int64_t>& ids) const {
  const std::string key(word);
  {
    std::shared_lock lock(cache_mutex_);
    const auto it = cache_.find(key);
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::vector<std::int32_t> symbols = merge_symbols(word);
  std::vector<std::int64_t> word_ids;
  word_ids.reserve(symbols.size());
  for (std::int32_t symbol : symbols) word_ids.push_back(symbol_id_[symbol]);
  ids.insert(ids.end(), word_ids.begin(), word_ids.end());
  std::unique_lock lock(cache_mutex_);
  if (cache_.size() < kCacheCapacity) cache_.emplace(key, std::move(word_ids));
}

void Encoder::pin_word(const std::string& word, std::vector<std::int64_t> ids) {
  std::unique_lock lock(cache_mutex_);
  cache_[word] = std::move(ids);
}

}  // namespace avgzsl::preprocessing::byte_level_bpe
