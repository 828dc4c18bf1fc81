// The byte-level BPE that CLIP's and GPT-2's (RoBERTa's) tokenizers have in common: every UTF-8
// byte of a word starts as one printable symbol (GPT-2's bytes_to_unicode), then the ranked merges
// of merges.txt join adjacent symbols. The two differ only around it: CLIP marks a word's last
// symbol with "</w>" and lower-cases, GPT-2 keeps a leading space inside the word ("Ġ").
// Private to src/preprocessing/.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace avgzsl::preprocessing::byte_level_bpe {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the others (controls,
// space, soft hyphen...) for U+0100 onwards, so every byte has a visible, non-space symbol (space
// is "Ġ" = U+0120). In GPT-2's order, which is also the order of CLIP's first 256 ids.
std::vector<std::pair<unsigned char, std::string>> byte_symbols();

using Vocabulary = std::unordered_map<std::string, std::int64_t>;

// A Hugging Face vocab.json: one JSON object token -> id, ids integers in [0, 2^31) and distinct.
// Throws std::runtime_error "<path>: <problem>".
Vocabulary read_vocab_json(const std::filesystem::path& path);

// Largest id + 1: the rows of the token embedding.
std::int64_t vocab_size(const Vocabulary& vocab);

struct MergeLine {
  std::string left;
  std::string right;
  std::size_t line_number;  // 1-based, for error messages
};

// The merges of a merges.txt held in `text`: line 1 must be the "#version" header (both reference
// readers skip it blindly; checking it catches a headerless file instead of losing a merge), then
// one "left right" pair per line in rank order; trailing blank lines are ignored (Hugging Face
// strips the file) and CRLF is accepted. At most `max_lines` lines are read, the header included
// (CLIP's readers use a fixed number). Throws std::runtime_error "<path>: <problem>".
std::vector<MergeLine> parse_merges(
    const std::filesystem::path& path, std::string_view text,
    std::size_t max_lines = std::numeric_limits<std::size_t>::max());

// The merge loop with its per-word cache. Thread-safety: encode_word may be called from several
// threads at once (the cache is guarded by a shared mutex).
class Encoder {
 public:
  // `merges` in rank order; a repeated pair keeps its last rank, as Python's dict(zip(...)).
  // `end_of_word` is appended to the symbol of a word's last byte ("</w>" for CLIP, "" for GPT-2).
  // A symbol the merges produce that `vocab` lacks encodes as `unknown_id` (the slow Hugging Face
  // tokenizers' `encoder.get(token, unk)`); CLIP checks beforehand that there is none.
  Encoder(const Vocabulary& vocab, const std::vector<MergeLine>& merges,
          const std::string& end_of_word, std::int64_t unknown_id);
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Appends the ids of one pre-tokenised word (its raw UTF-8 bytes, non-empty).
  void encode_word(std::string_view word, std::vector<std::int64_t>& ids) const;

  // Makes `word` encode as `ids` whatever the merges say (CLIP's special tokens written in text).
  void pin_word(const std::string& word, std::vector<std::int64_t> ids);

 private:
  // One merge: its rank (lower merges first) and the symbol it makes.
  struct Merge {
    int rank;
    std::int32_t merged;
  };
  static std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
           static_cast<std::uint32_t>(right);
  }
  // The reference bpe(): repeatedly merge every occurrence (left to right, without overlap) of the
  // adjacent pair with the lowest rank, until no adjacent pair has a merge.
  std::vector<std::int32_t> merge_symbols(std::string_view word) const;

  // Symbols are numbered here, not by vocabulary id, so that merges through tokens the vocabulary
  // lacks still happen as in the reference (which merges strings).
  std::array<std::int32_t, 256> byte_symbol_{};
  std::array<std::int32_t, 256> last_byte_symbol_{};
  std::unordered_map<std::uint64_t, Merge> merges_;
  std::vector<std::int64_t> symbol_id_;  // vocabulary id of each symbol, or unknown_id

  // Words recur constantly (prompt templates, class names), so their BPE is memoised as the
  // reference tokenizers do; bounded so that a long-lived process can't grow it without end.
  static constexpr std::size_t kCacheCapacity = 1 << 17;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int64_t>> cache_;
};

}  // namespace avgzsl::preprocessing::byte_level_bpe
