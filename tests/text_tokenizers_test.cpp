// CLAP's text tokenizers: RoBERTa (GPT-2 byte-level BPE, LAION / Hugging Face CLAP) and BERT
// WordPiece (WavCaps). No reference outputs exist on this machine (no transformers, no real
// vocabularies), so the checks run on tiny vocabularies written here, each expectation derived by
// hand from Hugging Face's slow tokenizers (tokenization_roberta.py, tokenization_bert.py,
// tokenization_utils.py); the pre-token splits were also confirmed with Python's `regex` module
// and GPT-2's pattern. With the real vocabularies under ../shared/data/golden/clap, the ids from
// Hugging Face's documentation are checked too.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "avgzsl/preprocessing/roberta_tokenizer.h"
#include "avgzsl/preprocessing/wordpiece_tokenizer.h"
#include "byte_symbols.h"
#include "error_text.h"
#include "temp_dir.h"

// A named namespace around everything: the tests of this binary may be compiled as one unity
// source, where the anonymous namespaces of the files would merge.
namespace text_tokenizers_test {

namespace fs = std::filesystem;
using avgzsl::preprocessing::kClapTextMaxLength;
using avgzsl::preprocessing::kWavcapsTextMaxLength;
using avgzsl::preprocessing::RobertaTokenizer;
using avgzsl::preprocessing::WordPieceTokenizer;
using avgzsl::testing::TempDir;
using Ids = std::vector<std::int64_t>;
using MergeList = std::vector<std::pair<std::string, std::string>>;

namespace {

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

template <class F>
std::string error_of(F&& call) {
  return avgzsl::testing::typed_error_of(std::forward<F>(call));
}

// Expects a one-line std::runtime_error "<path>: ...<problem>...".
template <class F>
void expect_file_error(F&& call, const fs::path& path, const std::string& problem) {
  const std::string error = error_of(call);
  EXPECT_EQ(error.rfind("runtime_error: " + path.string() + ": ", 0), 0U) << error;
  EXPECT_NE(error.find(problem), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

// ---- RoBERTa vocabularies --------------------------------------------------------------------

using avgzsl::testing::gpt2_byte_symbol;
std::string byte_symbol(int b) { return gpt2_byte_symbol(b); }

const std::string kG = "\u0120";  // "Ġ", the symbol of a space
const std::string kC = "\u010A";  // "Ċ", the symbol of '\n'

// A vocab.json + merges.txt laid out as roberta-base's: <s> <pad> </s> <unk> = 0 1 2 3, the 256
// byte symbols, one token per merge (or the given `tokens`), <mask> last.
struct RobertaVocab {
  std::vector<std::string> tokens;  // by id
  fs::path vocab_path;
  fs::path merges_path;

  RobertaVocab(const fs::path& dir, const MergeList& merges,
               const std::vector<std::string>* merged_tokens = nullptr)
      : vocab_path(dir / "vocab.json"), merges_path(dir / "merges.txt") {
    tokens = {"<s>", "<pad>", "</s>", "<unk>"};
    for (int b = 0; b < 256; ++b) tokens.push_back(byte_symbol(b));
    if (merged_tokens != nullptr) {
      tokens.insert(tokens.end(), merged_tokens->begin(), merged_tokens->end());
    } else {
      for (const auto& [left, right] : merges) tokens.push_back(left + right);
    }
    tokens.push_back("<mask>");
    nlohmann::json vocab = nlohmann::json::object();
    for (std::size_t id = 0; id < tokens.size(); ++id) vocab[tokens[id]] = id;
    write_file(vocab_path, vocab.dump());
    std::string text = "#version: 0.2\n";
    for (const auto& [left, right] : merges) text += left + " " + right + "\n";
    write_file(merges_path, text);
  }

  RobertaTokenizer load(bool add_prefix_space = false) const {
    return RobertaTokenizer::from_files(vocab_path, merges_path, add_prefix_space);
  }
  std::int64_t id(const std::string& token) const {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == token) return static_cast<std::int64_t>(i);
    }
    throw std::out_of_range("no token " + token);
  }
  // <s>, the named tokens, </s>.
  Ids ids(std::initializer_list<std::string> names) const {
    Ids out = {0};
    for (const std::string& name : names) out.push_back(id(name));
    out.push_back(2);
    return out;
  }
};

// ---- WordPiece vocabularies ------------------------------------------------------------------

// A vocab.txt, one token per line (id = line), bert-base-uncased's specials first as there.
struct BertVocab {
  std::vector<std::string> tokens;
  fs::path path;

  BertVocab(const fs::path& dir, std::vector<std::string> words) : path(dir / "vocab.txt") {
    tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    tokens.insert(tokens.end(), words.begin(), words.end());
    std::string text;
    for (const std::string& t : tokens) text += t + "\n";
    write_file(path, text);
  }
  WordPieceTokenizer load(bool do_lower_case = true) const {
    return WordPieceTokenizer::from_file(path, do_lower_case);
  }
  std::int64_t id(const std::string& token) const {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == token) return static_cast<std::int64_t>(i);
    }
    throw std::out_of_range("no token " + token);
  }
  // [CLS], the named tokens, [SEP].
  Ids ids(std::initializer_list<std::string> names) const {
    Ids out = {id("[CLS]")};
    for (const std::string& name : names) out.push_back(id(name));
    out.push_back(id("[SEP]"));
    return out;
  }
};

}  // namespace

// ---- RoBERTa: pre-tokenisation and BPE ----------------------------------------------------------

// Merges used by several tests. Ranks: (Ġ,h)=0 (Ġh,i)=1 (h,i)=2 (Ġ,Ġ)=3.
const MergeList kHiMerges = {{kG, "h"}, {kG + "h", "i"}, {"h", "i"}, {kG, kG}};

TEST(RobertaTokenizer, SpaceBelongsToTheNextWord) {
  TempDir dir;
  const RobertaVocab v(dir.path(), kHiMerges);
  const auto tokenizer = v.load();
  // "hi" -> h i -> (h,i) -> hi. " hi" -> Ġ h i: (Ġ,h) ranks before (h,i) -> Ġh i -> (Ġh,i) -> Ġhi.
  EXPECT_EQ(tokenizer.encode("hi hi"), v.ids({"hi", kG + "hi"}));
  // add_prefix_space (false by default, as in Hugging Face and CLAP) gives the first word its Ġ.
  EXPECT_EQ(v.load(true).encode("hi hi"), v.ids({kG + "hi", kG + "hi"}));
  EXPECT_EQ(v.load(true).encode(" hi"), v.ids({kG + "hi"}));  // already starts with a space
  EXPECT_EQ(tokenizer.encode(" hi"), v.ids({kG + "hi"}));
  EXPECT_EQ(tokenizer.encode(""), v.ids({}));
}

TEST(RobertaTokenizer, WhitespaceRunGivesItsLastCharacterToTheNextWord) {
  TempDir dir;
  const RobertaVocab v(dir.path(), kHiMerges);
  const auto tokenizer = v.load();
  // \s+(?!\S): "hi  hi" -> "hi", " ", " hi" (the run keeps all but the space before "hi").
  EXPECT_EQ(tokenizer.encode("hi  hi"), v.ids({"hi", kG, kG + "hi"}));
  // Three spaces: "  " is one pre-token, so (Ġ,Ġ) merges it.
  EXPECT_EQ(tokenizer.encode("hi   hi"), v.ids({"hi", kG + kG, kG + "hi"}));
  // At the end nothing follows: the whole run is one pre-token.
  EXPECT_EQ(tokenizer.encode("hi  "), v.ids({"hi", kG + kG}));
  EXPECT_EQ(tokenizer.encode("hi   "), v.ids({"hi", kG + kG, kG}));  // ĠĠĠ: (Ġ,Ġ) once, left first
  // "hi \nhi": the run " \n" is followed by 'h', so " " alone; then "\n" (a single whitespace
  // before a non-space is matched by the plain \s+); a newline carries no space into "hi".
  EXPECT_EQ(tokenizer.encode("hi \nhi"), v.ids({"hi", kG, kC, "hi"}));
  EXPECT_EQ(tokenizer.encode("hi\n\nhi"), v.ids({"hi", kC, kC, "hi"}));
  EXPECT_EQ(tokenizer.encode("hi\n"), v.ids({"hi", kC}));
  // A tab or a no-break space is whitespace but not " ": it stands alone before a word.
  EXPECT_EQ(tokenizer.encode("hi\thi"), v.ids({"hi", byte_symbol('\t'), "hi"}));
  EXPECT_EQ(tokenizer.encode("hi\u00A0hi"),
            v.ids({"hi", byte_symbol(0xC2), byte_symbol(0xA0), "hi"}));
}

TEST(RobertaTokenizer, ContractionsAreCaseSensitive) {
  TempDir dir;
  const RobertaVocab v(dir.path(), {{"d", "o"}, {"do", "n"}, {"'", "t"}, {"'", "T"}, {"'", "m"}});
  const auto tokenizer = v.load();
  // "don't" -> "don", "'t". GPT-2's pattern has no IGNORECASE, so "'T" is no contraction:
  // " DON'T" -> " DON" (no merges for capitals), "'", "T" -- the (',T) merge never sees 'T'.
  EXPECT_EQ(tokenizer.encode("don't"), v.ids({"don", "'t"}));
  EXPECT_EQ(tokenizer.encode("DON'T"), v.ids({"D", "O", "N", "'", "T"}));
  EXPECT_EQ(tokenizer.encode("I'm"), v.ids({"I", "'m"}));
  // "'n" is no contraction: the apostrophe is punctuation ahead of the letter run.
  EXPECT_EQ(tokenizer.encode("'no"), v.ids({"'", "n", "o"}));
}

TEST(RobertaTokenizer, DigitsAndPunctuationAreSeparatePreTokens) {
  TempDir dir;
  // (c,1) and (i,!) would merge across pre-token boundaries; (1,2), (!,!), (Ġ,?) inside them.
  const RobertaVocab v(dir.path(), {{"c", "1"}, {"i", "!"}, {"1", "2"}, {"!", "!"}, {kG, "?"}});
  const auto tokenizer = v.load();
  // "abc123 4567!!" -> "abc", "123", " 4567", "!!".
  EXPECT_EQ(tokenizer.encode("abc123 4567!!"),
            v.ids({"a", "b", "c", "12", "3", kG, "4", "5", "6", "7", "!!"}));
  // "hi!  ?x" -> "hi", "!", " ", " ?", "x".
  EXPECT_EQ(tokenizer.encode("hi!  ?x"), v.ids({"h", "i", "!", kG, kG + "?", "x"}));
}

TEST(RobertaTokenizer, NonAsciiGoesThroughItsUtf8Bytes) {
  TempDir dir;
  // 'é' = C3 A9 -> "Ã" "©". '日' = E6 97 A5: 0x97 is not printable, so it has a U+01xx symbol.
  const std::string e_acute = byte_symbol(0xC3) + byte_symbol(0xA9);
  const RobertaVocab v(dir.path(), {{byte_symbol(0xC3), byte_symbol(0xA9)}});
  const auto tokenizer = v.load();
  EXPECT_EQ(byte_symbol(' '), kG);
  EXPECT_EQ(byte_symbol('\n'), kC);
  EXPECT_EQ(byte_symbol(0xC3), "\u00C3");
  EXPECT_EQ(tokenizer.encode("\u00E9"), v.ids({e_acute}));
  // " é" and " 日" keep their space (a letter run); the emoji (So) is punctuation-like.
  EXPECT_EQ(tokenizer.encode("\u00E9 \u65E5\U0001F600"),
            v.ids({e_acute, kG, byte_symbol(0xE6), byte_symbol(0x97), byte_symbol(0xA5),
                   byte_symbol(0xF0), byte_symbol(0x9F), byte_symbol(0x98), byte_symbol(0x80)}));
  // No lower-casing: RoBERTa is case-sensitive.
  EXPECT_EQ(tokenizer.encode("\u00C9"), v.ids({byte_symbol(0xC3), byte_symbol(0x89)}));
}

TEST(RobertaTokenizer, MergesFollowRankNotPosition) {
  TempDir dir;
  const RobertaVocab bc_first(dir.path(), {{"b", "c"}, {"a", "b"}});
  EXPECT_EQ(bc_first.load().encode("abc"), bc_first.ids({"a", "bc"}));
  TempDir other;
  const RobertaVocab ab_first(other.path(), {{"a", "b"}, {"b", "c"}});
  EXPECT_EQ(ab_first.load().encode("abc"), ab_first.ids({"ab", "c"}));
  // Every occurrence of the best pair merges, left to right, without overlap.
  TempDir third;
  const RobertaVocab aa(third.path(), {{"a", "a"}});
  EXPECT_EQ(aa.load().encode("aaa"), aa.ids({"aa", "a"}));
  EXPECT_EQ(aa.load().encode("aaaa"), aa.ids({"aa", "aa"}));
}

TEST(RobertaTokenizer, SymbolMissingFromTheVocabularyIsUnk) {
  TempDir dir;
  // Merges (x,y) then (xy,z), but the vocabulary has "xyz" and not "xy": as in Hugging Face, BPE
  // works on strings, so "xyz" still forms; a lone "xy" becomes <unk>.
  const std::vector<std::string> merged = {"xyz"};
  const RobertaVocab v(dir.path(), {{"x", "y"}, {"xy", "z"}}, &merged);
  const auto tokenizer = v.load();
  EXPECT_EQ(tokenizer.encode("xyz"), v.ids({"xyz"}));
  EXPECT_EQ(tokenizer.encode("xy"), v.ids({"<unk>"}));
  EXPECT_EQ(tokenizer.unk_token_id(), 3);
}

TEST(RobertaTokenizer, SpecialTokensComeFromTheVocabulary) {
  TempDir dir;
  const RobertaVocab v(dir.path(), kHiMerges);
  const auto tokenizer = v.load();
  // roberta-base's layout: <s> <pad> </s> <unk> = 0 1 2 3, <mask> last.
  EXPECT_EQ(tokenizer.cls_token_id(), 0);
  EXPECT_EQ(tokenizer.pad_token_id(), 1);
  EXPECT_EQ(tokenizer.sep_token_id(), 2);
  EXPECT_EQ(tokenizer.unk_token_id(), 3);
  EXPECT_EQ(tokenizer.vocab_size(), static_cast<std::int64_t>(v.tokens.size()));
  // Elsewhere in another vocabulary: looked up, not assumed.
  TempDir other;
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_symbol(b)] = b;
  vocab["<unk>"] = 256, vocab["<mask>"] = 257, vocab["</s>"] = 258, vocab["<s>"] = 259;
  vocab["<pad>"] = 300;
  write_file(other / "vocab.json", vocab.dump());
  write_file(other / "merges.txt", "#version: 0.2\n");
  const auto moved = RobertaTokenizer::from_files(other / "vocab.json", other / "merges.txt");
  EXPECT_EQ(moved.unk_token_id(), 256);
  EXPECT_EQ(moved.sep_token_id(), 258);
  EXPECT_EQ(moved.cls_token_id(), 259);
  EXPECT_EQ(moved.pad_token_id(), 300);
  EXPECT_EQ(moved.vocab_size(), 301);
  EXPECT_EQ(moved.encode("a<mask>"), (Ids{259, 'a', 257, 258}));  // byte symbol "a" has id 97
}

TEST(RobertaTokenizer, SpecialTokensWrittenInTheTextAreKept) {
  TempDir dir;
  const RobertaVocab v(dir.path(), kHiMerges);
  const auto tokenizer = v.load();
  // Hugging Face splits on the special tokens first; the pieces around them are encoded alone
  // ("hi " ends a piece, so its space is a trailing run).
  EXPECT_EQ(tokenizer.encode("hi<s>hi"), v.ids({"hi", "<s>", "hi"}));
  EXPECT_EQ(tokenizer.encode("hi </s> hi"), v.ids({"hi", kG, "</s>", kG + "hi"}));
  EXPECT_EQ(tokenizer.encode("<pad><unk>"), v.ids({"<pad>", "<unk>"}));
  // <mask> is AddedToken(lstrip=True): it takes the whitespace before it.
  EXPECT_EQ(tokenizer.encode("hi \t<mask> hi"), v.ids({"hi", "<mask>", kG + "hi"}));
  // Not a special token: case matters, and a broken one is plain text.
  EXPECT_EQ(tokenizer.encode("<S>"), v.ids({"<", "S", ">"}));
}

TEST(RobertaTokenizer, TruncationKeepsTheEndToken) {
  TempDir dir;
  const RobertaVocab v(dir.path(), kHiMerges);
  const auto tokenizer = v.load();
  const std::int64_t hi = v.id("hi");
  const std::int64_t g_hi = v.id(kG + "hi");
  EXPECT_EQ(tokenizer.encode("hi hi hi hi", 4), (Ids{0, hi, g_hi, 2}));
  EXPECT_EQ(tokenizer.encode("hi hi hi hi", 6), (Ids{0, hi, g_hi, g_hi, g_hi, 2}));
  EXPECT_EQ(tokenizer.encode("hi hi hi hi", 2), (Ids{0, 2}));
  EXPECT_THROW(tokenizer.encode("hi", 1), std::invalid_argument);
  // LAION CLAP's 77 by default.
  std::string many = "hi";
  for (int i = 0; i < 100; ++i) many += " hi";
  const Ids ids = tokenizer.encode(many);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kClapTextMaxLength));
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids[75], g_hi);
  EXPECT_EQ(ids.back(), 2);
}

TEST(RobertaTokenizer, ConcurrentCallsAgreeWithSequentialOnes) {
  TempDir dir;
  const RobertaVocab v(dir.path(), kHiMerges);
  const auto tokenizer = v.load();
  const std::vector<std::string> texts = {"hi hi", "hi  hi", "hih ih", "  hi", "hi\n"};
  std::vector<Ids> expected;
  for (const auto& t : texts) expected.push_back(v.load().encode(t));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        const std::size_t k = static_cast<std::size_t>(i) % texts.size();
        if (tokenizer.encode(texts[k]) != expected[k]) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(RobertaTokenizer, InvalidUtf8TextIsRejected) {
  TempDir dir;
  const RobertaVocab v(dir.path(), {});
  const auto tokenizer = v.load();
  EXPECT_THROW(tokenizer.encode("abc\xFF"), std::invalid_argument);
  EXPECT_THROW(tokenizer.encode("\xC0\xAF"), std::invalid_argument);      // overlong '/'
  EXPECT_THROW(tokenizer.encode("\xED\xA0\x80"), std::invalid_argument);  // a surrogate
}

TEST(RobertaTokenizer, MissingAndMalformedFiles) {
  TempDir dir;
  const fs::path vocab = dir / "vocab.json";
  const fs::path merges = dir / "merges.txt";
  auto load = [&] { RobertaTokenizer::from_files(vocab, merges); };
  expect_file_error(load, vocab, "file not found");
  write_file(vocab, "{\"a\": 0,");
  expect_file_error(load, vocab, "invalid JSON");
  write_file(vocab, "[1, 2]");
  expect_file_error(load, vocab, "JSON object");
  write_file(vocab, R"({"a": -1})");
  expect_file_error(load, vocab, "token 'a': id is not an integer");
  write_file(vocab, R"({"a": 0, "b": 0})");
  expect_file_error(load, vocab, "share id 0");

  const RobertaVocab v(dir.path(), {{"a", "b"}});
  EXPECT_EQ(error_of(load), "");
  write_file(merges, "a b\n");
  expect_file_error(load, merges, "line 1 is not a '#version' header");
  write_file(merges, "#version: 0.2\na b\nab\n");
  expect_file_error(load, merges, "line 3: expected two symbols");
  write_file(merges, "#version: 0.2\n\xFF\xFE b\n");
  expect_file_error(load, merges, "not valid UTF-8");
  fs::remove(merges);
  expect_file_error(load, merges, "file not found");
  write_file(merges, "#version: 0.2\r\na b\r\n\r\n");  // CRLF and a trailing blank line are fine
  EXPECT_EQ(error_of(load), "");

  nlohmann::json without_mask = nlohmann::json::parse(R"({"<s>": 0, "<pad>": 1, "</s>": 2})");
  without_mask["<unk>"] = 3;
  write_file(vocab, without_mask.dump());
  expect_file_error(load, vocab, "no special token <mask>");
}

// ---- WordPiece
// -----------------------------------------------------------------------------------

const std::vector<std::string> kWords = {
    "hello", "world", "##world", "don", "'",     "t",  "un", "##aff", "##able", "##a", "!",
    ",",     "$",     "a",       "b",   "中",    "国", "[",  "]",     "cls",    "α",   "##σ",
    "e",     "x",     "xxxxxxxxxx", "##xxxxxxxxxx", "##x", "Hello", "é", "##é"};

TEST(WordPieceTokenizer, LowerCasesAndStripsAccents) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  const auto tokenizer = v.load();
  EXPECT_EQ(tokenizer.encode("Hello WORLD"), v.ids({"hello", "world"}));
  // NFD splits é into e + U+0301 (Mn), which is dropped; precomposed or not, the same.
  EXPECT_EQ(tokenizer.encode("H\u00E9llo"), v.ids({"hello"}));
  EXPECT_EQ(tokenizer.encode("HE\u0301LLO"), v.ids({"hello"}));
  EXPECT_EQ(tokenizer.encode("\u00C9"), v.ids({"e"}));
  // Hugging Face lower-cases one character at a time, so a final capital sigma becomes σ, not
  // the word-final ς that Python's str.lower() would give the whole word.
  EXPECT_EQ(tokenizer.encode("\u0391\u03A3"), v.ids({"\u03B1", "##\u03C3"}));
}

TEST(WordPieceTokenizer, SplitsOnPunctuation) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  const auto tokenizer = v.load();
  EXPECT_EQ(tokenizer.encode("don't"), v.ids({"don", "'", "t"}));
  EXPECT_EQ(tokenizer.encode("hello,world!"), v.ids({"hello", ",", "world", "!"}));
  // All non-alphanumeric ASCII counts, '$' (a Unicode symbol, Sc) included.
  EXPECT_EQ(tokenizer.encode("a$b"), v.ids({"a", "$", "b"}));
  // Unicode punctuation (P*) too: '¡' (Po) is split off, and is [UNK] in this vocabulary.
  EXPECT_EQ(tokenizer.encode("\u00A1hello"), v.ids({"[UNK]", "hello"}));
}

TEST(WordPieceTokenizer, SpacesOutCjkIdeographs) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  const auto tokenizer = v.load();
  // Each ideograph is a word: "中国" -> 中 国. Were it one word, WordPiece would need "##国".
  EXPECT_EQ(tokenizer.encode("\u4E2D\u56FD"), v.ids({"中", "国"}));
  EXPECT_EQ(tokenizer.encode("a\u4E2Db"), v.ids({"a", "中", "b"}));
  // Hiragana is not in those blocks: "あa" stays one word, which this vocabulary cannot spell.
  EXPECT_EQ(tokenizer.encode("\u3042a"), v.ids({"[UNK]"}));
}

TEST(WordPieceTokenizer, GreedyLongestMatchWithContinuationPieces) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  const auto tokenizer = v.load();
  // "un" then "##aff" (longer than "##a"), then "##able".
  EXPECT_EQ(tokenizer.encode("unaffable"), v.ids({"un", "##aff", "##able"}));
  EXPECT_EQ(tokenizer.encode("helloworld"), v.ids({"hello", "##world"}));
  // One piece that cannot be matched makes the whole word a single [UNK].
  EXPECT_EQ(tokenizer.encode("unaffablez hello"), v.ids({"[UNK]", "hello"}));
  EXPECT_EQ(tokenizer.encode("worldhello"), v.ids({"[UNK]"}));  // "world", then no "##h..."
}

TEST(WordPieceTokenizer, WordsOver100CharactersAreUnk) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  const auto tokenizer = v.load();
  const std::string x100(100, 'x');
  // 100 characters: ten pieces of ten ("xxxxxxxxxx", then "##xxxxxxxxxx" nine times).
  Ids expected = {v.id("[CLS]"), v.id("xxxxxxxxxx")};
  for (int i = 0; i < 9; ++i) expected.push_back(v.id("##xxxxxxxxxx"));
  expected.push_back(v.id("[SEP]"));
  EXPECT_EQ(tokenizer.encode(x100, 100), expected);
  EXPECT_EQ(tokenizer.encode(x100 + "x"), v.ids({"[UNK]"}));
  EXPECT_EQ(tokenizer.encode("a " + x100 + "x a"), v.ids({"a", "[UNK]", "a"}));
  // Characters, not bytes: 100 two-byte 'é' (200 bytes) are spelled é ##é ... (cased, so the
  // accent stays); one more and the word is [UNK].
  std::string e100;
  for (int i = 0; i < 100; ++i) e100 += "\u00E9";
  const auto cased = v.load(/*do_lower_case=*/false);
  const Ids pieces = cased.encode(e100, 200);
  ASSERT_EQ(pieces.size(), 102U);
  EXPECT_EQ(pieces[1], v.id("é"));
  EXPECT_EQ(pieces[100], v.id("##é"));
  EXPECT_EQ(cased.encode(e100 + "\u00E9"), v.ids({"[UNK]"}));
}

TEST(WordPieceTokenizer, CleansControlCharactersAndWhitespace) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  const auto tokenizer = v.load();
  // NUL, U+FFFD and format characters (Cf: zero-width space, soft hyphen) vanish inside a word.
  EXPECT_EQ(tokenizer.encode(std::string("hel\0lo", 6)), v.ids({"hello"}));
  EXPECT_EQ(tokenizer.encode("hel\uFFFDlo wor\u200Bld he\u00ADllo"),
            v.ids({"hello", "world", "hello"}));
  // \t \n \r and Zs (no-break space, ideographic space) separate words.
  EXPECT_EQ(tokenizer.encode("hello\tworld\nhello\r\nworld\u00A0a\u3000b"),
            v.ids({"hello", "world", "hello", "world", "a", "b"}));
  // The line and paragraph separators (Zl, Zp) survive the cleaning, but Python's str.split()
  // still splits on them.
  EXPECT_EQ(tokenizer.encode("hello\u2028world\u2029a"), v.ids({"hello", "world", "a"}));
  // \v and \f are control characters (Cc) to BERT, not whitespace: they are dropped and the
  // words around them join.
  EXPECT_EQ(tokenizer.encode("hello\vworld"), v.ids({"hello", "##world"}));
  EXPECT_EQ(tokenizer.encode(" \t\n "), v.ids({}));
}

TEST(WordPieceTokenizer, SpecialTokensWrittenInTheTextAreKept) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  const auto tokenizer = v.load();
  EXPECT_EQ(tokenizer.encode("[CLS] hello[MASK]world"),
            v.ids({"[CLS]", "hello", "[MASK]", "world"}));
  // Only in capitals: "[cls]" is lower-case text, split on its brackets.
  EXPECT_EQ(tokenizer.encode("[cls]"), v.ids({"[", "cls", "]"}));
}

TEST(WordPieceTokenizer, CasedModelKeepsCaseAndAccents) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  const auto tokenizer = v.load(/*do_lower_case=*/false);
  EXPECT_EQ(tokenizer.encode("Hello hello HELLO"), v.ids({"Hello", "hello", "[UNK]"}));
  // Not stripped; composed to NFC first, so a decomposed é is the vocabulary's é.
  EXPECT_EQ(tokenizer.encode("\u00E9 e\u0301"), v.ids({"é", "é"}));
}

TEST(WordPieceTokenizer, TruncationKeepsTheSeparator) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  const auto tokenizer = v.load();
  EXPECT_EQ(tokenizer.encode("a b a b", 4), v.ids({"a", "b"}));
  EXPECT_EQ(tokenizer.encode("a b a b", 2), v.ids({}));
  EXPECT_THROW(tokenizer.encode("a", 1), std::invalid_argument);
  std::string many = "a";
  for (int i = 0; i < 50; ++i) many += " b";
  const Ids ids = tokenizer.encode(many);  // WavCaps' 30 by default
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kWavcapsTextMaxLength));
  EXPECT_EQ(ids[1], v.id("a"));
  EXPECT_EQ(ids[28], v.id("b"));
  EXPECT_EQ(ids.back(), v.id("[SEP]"));
  EXPECT_EQ(tokenizer.cls_token_id(), 2);
  EXPECT_EQ(tokenizer.sep_token_id(), 3);
  EXPECT_EQ(tokenizer.pad_token_id(), 0);
  EXPECT_EQ(tokenizer.unk_token_id(), 1);
  EXPECT_EQ(tokenizer.vocab_size(), static_cast<std::int64_t>(v.tokens.size()));
}

TEST(WordPieceTokenizer, VocabularyFileLines) {
  TempDir dir;
  const fs::path path = dir / "vocab.txt";
  // CRLF and a lone CR end lines too (Python's universal newlines); no final newline is needed;
  // a repeated token keeps its last line.
  write_file(path, "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\n[MASK]\nhi\nhi\nyo");
  const auto tokenizer = WordPieceTokenizer::from_file(path);
  EXPECT_EQ(tokenizer.encode("hi yo"), (Ids{2, 6, 7, 3}));
  EXPECT_EQ(tokenizer.vocab_size(), 8);
}

TEST(WordPieceTokenizer, InvalidUtf8TextIsRejected) {
  TempDir dir;
  const BertVocab v(dir.path(), kWords);
  EXPECT_THROW(v.load().encode("abc\xFF"), std::invalid_argument);
}

TEST(WordPieceTokenizer, MissingAndMalformedFiles) {
  TempDir dir;
  const fs::path path = dir / "vocab.txt";
  auto load = [&] { WordPieceTokenizer::from_file(path); };
  expect_file_error(load, path, "file not found");
  write_file(path, "");
  expect_file_error(load, path, "empty vocabulary");
  write_file(path, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
  expect_file_error(load, path, "no special token [MASK]");
  write_file(path, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n\xFF\n");
  expect_file_error(load, path, "not valid UTF-8");
}

}  // namespace text_tokenizers_test
