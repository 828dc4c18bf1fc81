// CLIP tokenizer: parity with clip.tokenize on the golden cases (both vocabulary files), and
// self-contained checks of the BPE, the text cleaning and the error messages on tiny vocabularies.
#include "avgzsl/preprocessing/clip_tokenizer.h"

#include <gtest/gtest.h>

#include "byte_symbols.h"
#include "error_text.h"
#include "golden_data.h"
#include "temp_dir.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// A named namespace around everything: the tests of this binary may be compiled as one unity
// source, where the anonymous namespaces of the files would merge.
namespace clip_tokenizer_test {

namespace fs = std::filesystem;
using avgzsl::preprocessing::clip_clean_text;
using avgzsl::preprocessing::ClipTokenizer;
using avgzsl::preprocessing::html_unescape;
using Ids = std::vector<std::int64_t>;

namespace {

using avgzsl::testing::golden_clip_dir;

// Loading parses 49k merges; do it once per loader for the whole binary.
const ClipTokenizer& hugging_face_tokenizer() {
  static const ClipTokenizer tokenizer =
      ClipTokenizer::from_hugging_face(golden_clip_dir() / "hf_clip_vit_base_patch32");
  return tokenizer;
}
const ClipTokenizer& openai_tokenizer() {
  static const ClipTokenizer tokenizer =
      ClipTokenizer::from_openai_vocabulary(golden_clip_dir() / "bpe_simple_vocab_16e6.txt.gz");
  return tokenizer;
}

struct GoldenCase {
  std::string text;
  Ids ids;  // <|startoftext|> ... <|endoftext|>, without the zero padding
};

std::vector<GoldenCase> golden_cases() {
  const fs::path path = golden_clip_dir() / "tokenizer_cases.jsonl";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<GoldenCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    cases.push_back({j.at("text").get<std::string>(), j.at("ids").get<Ids>()});
  }
  return cases;
}

std::string format_ids(const Ids& ids) {
  std::ostringstream out;
  for (std::size_t i = 0; i < ids.size(); ++i) out << (i ? "," : "") << ids[i];
  return out.str();
}

// Runs every golden case through `tokenizer`; fails with the first mismatches, text included.
void expect_golden_cases(const ClipTokenizer& tokenizer) {
  const auto cases = golden_cases();
  ASSERT_EQ(cases.size(), 3522U);
  std::size_t mismatches = 0;
  std::ostringstream report;
  for (const auto& c : cases) {
    Ids expected = c.ids;
    expected.resize(ClipTokenizer::kDefaultContextLength, 0);
    const Ids actual = tokenizer.tokenize(c.text);
    if (actual != expected) {
      if (++mismatches <= 5) {
        report << "\n  text: \"" << c.text << "\"\n    expected " << format_ids(expected)
               << "\n    actual   " << format_ids(actual);
      }
    }
  }
  EXPECT_EQ(mismatches, 0U) << "first mismatching cases:" << report.str();
}

// ---- tiny self-made vocabularies -------------------------------------------------------------

std::vector<std::string> byte_symbols() { return avgzsl::testing::gpt2_byte_symbols_in_table_order(); }

using avgzsl::testing::TempDir;

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// A gzip file with the content in uncompressed ("stored") deflate blocks: written by hand so that
// this test needs no zlib of its own (RFC 1951 section 3.2.4, RFC 1952).
void write_gzip(const fs::path& path, const std::string& content) {
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);  // deflate, no name
  auto put_le = [&out](std::uint32_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  };
  std::size_t pos = 0;
  do {
    const std::size_t length = std::min<std::size_t>(content.size() - pos, 0xFFFF);
    out.push_back(pos + length == content.size() ? '\x01' : '\x00');  // BFINAL, BTYPE = stored
    put_le(static_cast<std::uint32_t>(length), 2);
    put_le(static_cast<std::uint32_t>(~length & 0xFFFF), 2);
    out.append(content, pos, length);
    pos += length;
  } while (pos < content.size());
  std::uint32_t crc = 0xFFFFFFFF;
  for (unsigned char byte : content) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
  }
  put_le(~crc, 4);
  put_le(static_cast<std::uint32_t>(content.size()), 4);
  write_file(path, out);
}

using MergeList = std::vector<std::pair<std::string, std::string>>;

// The vocabulary OpenAI builds from `merges` (byte symbols, with "</w>", merges, specials).
std::vector<std::string> openai_vocabulary(const MergeList& merges) {
  std::vector<std::string> vocab = byte_symbols();
  for (const auto& s : byte_symbols()) vocab.push_back(s + "</w>");
  for (const auto& [left, right] : merges) vocab.push_back(left + right);
  vocab.push_back("<|startoftext|>");
  vocab.push_back("<|endoftext|>");
  return vocab;
}

std::string merges_text(const MergeList& merges) {
  std::string text = "#version: 0.2\n";
  for (const auto& [left, right] : merges) text += left + " " + right + "\n";
  return text;
}

// Writes a Hugging Face directory (vocab.json + merges.txt) for `merges`.
void write_hugging_face(const fs::path& dir, const MergeList& merges) {
  nlohmann::json vocab = nlohmann::json::object();
  const auto tokens = openai_vocabulary(merges);
  for (std::size_t id = 0; id < tokens.size(); ++id) vocab[tokens[id]] = id;
  write_file(dir / "vocab.json", vocab.dump());
  write_file(dir / "merges.txt", merges_text(merges));
}

struct TinyVocabulary {
  ClipTokenizer tokenizer;
  std::vector<std::string> tokens;  // by id

  std::int64_t id(const std::string& token) const {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == token) return static_cast<std::int64_t>(i);
    }
    throw std::out_of_range("no token " + token);
  }
  Ids ids(std::initializer_list<const char*> names) const {
    Ids out;
    for (const char* name : names) out.push_back(id(name));
    return out;
  }
};

TinyVocabulary tiny_tokenizer(const fs::path& dir, const MergeList& merges) {
  write_hugging_face(dir, merges);
  return {ClipTokenizer::from_hugging_face(dir), openai_vocabulary(merges)};
}

template <class F>
std::string error_of(F&& call) {
  return avgzsl::testing::typed_error_of(std::forward<F>(call));
}

}  // namespace

// ---- golden parity ---------------------------------------------------------------------------

TEST(ClipTokenizerGolden, HelloWorld) {
  AVGZSL_SKIP_WITHOUT(golden_clip_dir());
  const Ids expected = {49406, 3306, 1002, 256, 49407};
  for (const ClipTokenizer* tokenizer : {&hugging_face_tokenizer(), &openai_tokenizer()}) {
    Ids ids = tokenizer->tokenize("Hello World!");
    ASSERT_EQ(ids.size(), 77U);
    EXPECT_TRUE(std::all_of(ids.begin() + 5, ids.end(), [](std::int64_t id) { return id == 0; }));
    ids.resize(5);
    EXPECT_EQ(ids, expected);
    EXPECT_EQ(tokenizer->encode("Hello World!"), Ids(expected.begin() + 1, expected.end() - 1));
    EXPECT_EQ(tokenizer->start_of_text_id(), 49406);
    EXPECT_EQ(tokenizer->end_of_text_id(), 49407);
    EXPECT_EQ(tokenizer->vocab_size(), 49408);
  }
}

TEST(ClipTokenizerGolden, AllCasesHuggingFaceFiles) {
  AVGZSL_SKIP_WITHOUT(golden_clip_dir());
  expect_golden_cases(hugging_face_tokenizer());
}

TEST(ClipTokenizerGolden, AllCasesOpenAiVocabulary) {
  AVGZSL_SKIP_WITHOUT(golden_clip_dir());
  expect_golden_cases(openai_tokenizer());
}

TEST(ClipTokenizerGolden, TruncationWithoutTruncateThrows) {
  AVGZSL_SKIP_WITHOUT(golden_clip_dir());
  std::string text;
  for (int i = 0; i < 76; ++i) text += "cat ";
  const ClipTokenizer& tokenizer = openai_tokenizer();
  EXPECT_EQ(tokenizer.tokenize(text).back(), 49407);  // 78 ids cut to 77, EOT last
  EXPECT_THROW(tokenizer.tokenize(text, 77, false), std::invalid_argument);
  text.resize(text.size() - 4);  // exactly 77 ids: fits
  EXPECT_EQ(tokenizer.tokenize(text, 77, false).back(), 49407);
}

TEST(ClipTokenizerGolden, ConcurrentCallsAgreeWithSequentialOnes) {
  AVGZSL_SKIP_WITHOUT(golden_clip_dir());
  const auto cases = golden_cases();
  const ClipTokenizer tokenizer =
      ClipTokenizer::from_hugging_face(golden_clip_dir() / "hf_clip_vit_base_patch32");
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Different orders, so that threads race on filling the same cache entries.
      for (std::size_t k = 0; k < cases.size(); ++k) {
        const auto& c = cases[t % 2 ? cases.size() - 1 - k : k];
        Ids ids = tokenizer.tokenize(c.text);
        ids.resize(c.ids.size());
        if (ids != c.ids) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---- text cleaning (Python's html.unescape, whitespace, str.lower) ----------------------------

TEST(ClipTextCleaning, HtmlUnescapeMatchesPython) {
  // Expected values printed by Python 3.11's html.unescape.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"fish &amp; chips", "fish & chips"},
      {"&amp;lt;", "&lt;"},  // one level per call
      {"&ampx", "&x"},       // legacy name without ';'
      {"&AMP", "&"},
      {"&lt&gt", "<>"},
      {"&notit;", "\u00ACit;"},  // longest legacy prefix
      {"&unknown;", "&unknown;"},
      {"&eacute", "\u00E9"},
      {"&NotEqualTilde;", "\u2242\u0338"},  // two code points
      {"&#39;single&#39;", "'single'"},
      {"&#X41;&#65", "AA"},
      {"&#128;", "\u20AC"},  // Windows-1252 for C1 references
      {"&#0;", "\uFFFD"},
      {"&#xD800;", "\uFFFD"},
      {"&#99999999999999999999;", "\uFFFD"},
      {"a&#1;b&#xFFFE;c", "abc"},  // invalid code points vanish
      {"&", "&"},
      {"&#;", "&#;"},
      {"&#x;", "&#x;"},
      {"caf\u00E9 &amp; \u65E5\u672C", "caf\u00E9 & \u65E5\u672C"},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(html_unescape(input), expected) << "input: " << input;
  }
}

TEST(ClipTextCleaning, WhitespaceAndCaseMatchPython) {
  // Python: whitespace_clean(html.unescape(html.unescape(s))).lower()
  EXPECT_EQ(clip_clean_text("  A\u00A0\t B\x1c\u3000C \n"), "a b c");
  EXPECT_EQ(clip_clean_text("&amp;amp; &AMP;LT;"), "& <");        // unescaped twice
  EXPECT_EQ(clip_clean_text("\u0130STANBUL"), "i\u0307stanbul");  // 'İ' -> 'i̇'
  EXPECT_EQ(clip_clean_text("\u039F\u0394\u039F\u03A3 \u03A3"), "\u03BF\u03B4\u03BF\u03C2 \u03C3");
  EXPECT_EQ(clip_clean_text("\u01C5 \u1E9E \u2126 \u212A"), "\u01C6 \u00DF \u03C9 k");
  EXPECT_EQ(clip_clean_text("\u041F\u0420\u0418\u0412\u0415\u0422"),
            "\u043F\u0440\u0438\u0432\u0435\u0442");
  EXPECT_THROW(clip_clean_text("\xC3"), std::invalid_argument);
  EXPECT_THROW(clip_clean_text("\xED\xA0\x80"), std::invalid_argument);  // a surrogate
}

// ---- BPE on tiny vocabularies ----------------------------------------------------------------

TEST(ClipTokenizerBpe, MergesFollowRankNotPosition) {
  TempDir dir;
  // "b c</w>" ranks before "a b": "abc" -> a + bc</w> although "a b" comes first in the word.
  const auto first = tiny_tokenizer(dir.path(), {{"b", "c</w>"}, {"a", "b"}});
  EXPECT_EQ(first.tokenizer.encode("abc"), first.ids({"a", "bc</w>"}));
  TempDir other;
  const auto second = tiny_tokenizer(other.path(), {{"a", "b"}, {"b", "c</w>"}});
  EXPECT_EQ(second.tokenizer.encode("abc"), second.ids({"ab", "c</w>"}));
}

TEST(ClipTokenizerBpe, EndOfWordMarksOnlyTheLastSymbol) {
  TempDir dir;
  const auto v = tiny_tokenizer(dir.path(), {{"a", "b"}, {"a", "b</w>"}});
  EXPECT_EQ(v.tokenizer.encode("ab"), v.ids({"ab</w>"}));
  EXPECT_EQ(v.tokenizer.encode("abab"), v.ids({"ab", "ab</w>"}));
  EXPECT_EQ(v.tokenizer.encode("b"), v.ids({"b</w>"}));
  EXPECT_EQ(v.tokenizer.encode("ba"), v.ids({"b", "a</w>"}));
}

TEST(ClipTokenizerBpe, MergesLeftToRightWithoutOverlap) {
  TempDir dir;
  const auto v = tiny_tokenizer(dir.path(), {{"a", "a"}});
  EXPECT_EQ(v.tokenizer.encode("aaa"), v.ids({"aa", "a</w>"}));
  // a a a a</w>: the pair (a, a</w>) has no merge, so the third 'a' stays alone.
  EXPECT_EQ(v.tokenizer.encode("aaaa"), v.ids({"aa", "a", "a</w>"}));
  EXPECT_EQ(v.tokenizer.encode("aaaaa"), v.ids({"aa", "aa", "a</w>"}));
}

TEST(ClipTokenizerBpe, PreTokenisationAndBytes) {
  TempDir dir;
  const auto v = tiny_tokenizer(dir.path(), {{"'", "s</w>"}});
  // Lower-cased; contractions, letter runs, single digits and punctuation runs are words.
  EXPECT_EQ(v.tokenizer.encode("A'S 12?!"),
            v.ids({"a</w>", "'s</w>", "1</w>", "2</w>", "?", "!</w>"}));
  // Non-ASCII letters go through their UTF-8 bytes: 'é' = C3 A9 -> symbols U+00C3, U+00A9.
  EXPECT_EQ(v.tokenizer.encode("\u00C9"), v.ids({"\u00C3", "\u00A9</w>"}));
  // Special tokens written in the text are kept whole.
  EXPECT_EQ(v.tokenizer.encode("x<|endoftext|>"), v.ids({"x</w>", "<|endoftext|>"}));
  EXPECT_TRUE(v.tokenizer.encode(" \t\n").empty());
  // Quirks of Python's `regex` with IGNORECASE: the long s (U+017F) completes the contraction 's,
  // and U+0345, a case variant of a letter but no letter, matches no alternative and vanishes.
  EXPECT_EQ(v.tokenizer.encode("x'\u017F"), v.ids({"x</w>", "'", "\u00C5", "\u00BF</w>"}));
  EXPECT_EQ(v.tokenizer.encode("a\u0345b"), v.ids({"a</w>", "b</w>"}));
}

TEST(ClipTokenizerBpe, ContextLengthPaddingAndTruncation) {
  TempDir dir;
  const auto v = tiny_tokenizer(dir.path(), {});
  const std::int64_t sot = v.id("<|startoftext|>");
  const std::int64_t eot = v.id("<|endoftext|>");
  const std::int64_t a = v.id("a</w>");
  EXPECT_EQ(v.tokenizer.start_of_text_id(), sot);
  EXPECT_EQ(v.tokenizer.end_of_text_id(), eot);
  EXPECT_EQ(v.tokenizer.vocab_size(), 514);
  EXPECT_EQ(v.tokenizer.tokenize("a", 5), (Ids{sot, a, eot, 0, 0}));
  EXPECT_EQ(v.tokenizer.tokenize("a a", 4), (Ids{sot, a, a, eot}));
  EXPECT_EQ(v.tokenizer.tokenize("a a a a", 4), (Ids{sot, a, a, eot}));  // last id -> EOT
  EXPECT_EQ(v.tokenizer.tokenize("a a a a", 1), (Ids{eot}));
  EXPECT_THROW(v.tokenizer.tokenize("a a a", 4, false), std::invalid_argument);
  EXPECT_THROW(v.tokenizer.tokenize("a", 0), std::invalid_argument);
}

TEST(ClipTokenizerBpe, BothLoadersGiveTheSameIds) {
  TempDir dir;
  const MergeList merges = {{"h", "e"}, {"l", "l"},     {"he", "ll"},   {"hell", "o</w>"},
                            {"w", "o"}, {"l", "d</w>"}, {"r", "ld</w>"}};
  write_hugging_face(dir.path(), merges);
  std::string gz = "\"bpe_simple_vocab_16e6.txt#version: 0.2\n";  // OpenAI's odd first line
  for (const auto& [left, right] : merges) gz += left + " " + right + "\n";
  write_gzip(dir.path() / "bpe.txt.gz", gz);
  const auto hf = ClipTokenizer::from_hugging_face(dir.path());
  const auto openai = ClipTokenizer::from_openai_vocabulary(dir.path() / "bpe.txt.gz");
  EXPECT_EQ(hf.vocab_size(), openai.vocab_size());
  for (const char* text : {"Hello world!", "hello, wo-rld", "\u00C9t\u00E9 2024", ""}) {
    EXPECT_EQ(hf.tokenize(text), openai.tokenize(text)) << text;
  }
}

// ---- errors ----------------------------------------------------------------------------------

TEST(ClipTokenizerErrors, MissingAndMalformedHuggingFaceFiles) {
  TempDir dir;
  const fs::path vocab = dir.path() / "vocab.json";
  const fs::path merges = dir.path() / "merges.txt";
  auto load = [&] { ClipTokenizer::from_hugging_face(dir.path()); };
  auto expect_error = [&](const fs::path& path, const std::string& problem) {
    const std::string error = error_of(load);
    EXPECT_EQ(error.rfind("runtime_error: " + path.string() + ": ", 0), 0U) << error;
    EXPECT_NE(error.find(problem), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  };
  expect_error(vocab, "file not found");
  write_file(vocab, "{\"a\": 0,");
  expect_error(vocab, "invalid JSON");
  write_file(vocab, "[1, 2]");
  expect_error(vocab, "JSON object");
  write_file(vocab, R"({"a": "zero"})");
  expect_error(vocab, "token 'a': id is not an integer");
  write_file(vocab, R"({"a": 0, "b": 0})");
  expect_error(vocab, "share id 0");
  write_file(vocab, R"({"a": 0})");
  write_file(merges, "#version: 0.2\n");
  expect_error(vocab, "no token for byte");

  write_hugging_face(dir.path(), {{"a", "b"}});
  write_file(merges, "a b\n");
  expect_error(merges, "line 1 is not a '#version' header");
  write_file(merges, "#version: 0.2\na b\nab\n");
  expect_error(merges, "line 3: expected two symbols");
  write_file(merges, "#version: 0.2\na c\n");
  expect_error(merges, "line 2: token 'ac' is not in the vocabulary");
  std::filesystem::remove(merges);
  expect_error(merges, "file not found");
  write_file(merges, "#version: 0.2\r\na b\r\n\r\n");  // CRLF and a trailing blank line are fine
  EXPECT_EQ(error_of(load), "");
}

TEST(ClipTokenizerErrors, MissingAndCorruptGzip) {
  TempDir dir;
  const fs::path gz = dir.path() / "bpe.txt.gz";
  auto load = [&] { ClipTokenizer::from_openai_vocabulary(gz); };
  auto expect_error = [&](const std::string& problem) {
    const std::string error = error_of(load);
    EXPECT_EQ(error.rfind("runtime_error: " + gz.string() + ": ", 0), 0U) << error;
    EXPECT_NE(error.find(problem), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  };
  expect_error("cannot open");
  write_file(gz, "#version: 0.2\na b\n");
  expect_error("not a gzip file");

  std::string content = "#version: 0.2\n";
  for (int i = 0; i < 2000; ++i) content += "a b\n";  // long enough to truncate mid-stream
  write_gzip(gz, content);
  EXPECT_EQ(error_of(load), "");
  std::string bytes;
  {
    std::ifstream in(gz, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_file(gz, bytes.substr(0, bytes.size() - 12));
  expect_error("truncated gzip data");
  std::string corrupt = bytes;
  corrupt[corrupt.size() - 6] ^= 0x5A;  // inside the CRC-32 of the trailer
  write_file(gz, corrupt);
  expect_error("corrupt gzip data (incorrect data check)");

  write_gzip(gz, "#version: 0.2\n\xFF\xFE b\n");
  expect_error("not valid UTF-8");
  write_gzip(gz, "no header\na b\n");
  expect_error("line 1 is not a '#version' header");
}

TEST(ClipTokenizerErrors, InvalidUtf8Text) {
  TempDir dir;
  const auto v = tiny_tokenizer(dir.path(), {});
  EXPECT_THROW(v.tokenizer.encode("abc\xFF"), std::invalid_argument);
  EXPECT_THROW(v.tokenizer.tokenize("\xC0\xAF"), std::invalid_argument);  // overlong '/'
}


}  // namespace clip_tokenizer_test
