// libFuzzer target for the text tokenizers' file loaders and their encoders
// (src/preprocessing: CLIP, RoBERTa byte-level BPE, BERT WordPiece). Input: one control byte, then
// parts cut at avgzsl_fuzz::kSeparator. Control byte & 3 picks the loader:
//   0  ClipTokenizer::from_hugging_face   parts: vocab.json, merges.txt, text
//   1  ClipTokenizer::from_openai_vocabulary  parts: bpe_simple_vocab (gzipped here unless bit 2
//      is set, which writes the bytes as they are: not gzip / corrupt gzip), text
//   2  RobertaTokenizer::from_files       parts: vocab.json, merges.txt, text (bit 2: add_prefix_space)
//   3  WordPieceTokenizer::from_file      parts: vocab.txt, text (bit 2: do_lower_case off)
// Bits 3..7: the length limit given to encode/tokenize.
// The loaders promise std::runtime_error "<path>: <problem>" for a missing or malformed file; the
// encoders std::invalid_argument only for text that is not valid UTF-8. Ids must lie in
// [0, vocab_size) and sequences keep their length limits.
// Build and run with fuzz/run.sh tokenizer.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "avgzsl/preprocessing/clip_tokenizer.h"
#include "avgzsl/preprocessing/roberta_tokenizer.h"
#include "avgzsl/preprocessing/wordpiece_tokenizer.h"
#include "fuzz_files.h"

namespace {

// Strict UTF-8 (what Python's str accepts): no overlong forms, surrogates or values past U+10FFFF.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp, min;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) extra = 1, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) extra = 2, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) extra = 3, cp = c & 0x07, min = 0x10000;
    else return false;
    if (s.size() - i - 1 < static_cast<size_t>(extra)) return false;
    for (int k = 1; k <= extra; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += 1 + extra;
  }
  return true;
}

void check_ids(const std::vector<std::int64_t>& ids, std::int64_t vocab_size) {
  for (std::int64_t id : ids) {
    if (id < 0 || id >= vocab_size) avgzsl_fuzz::invariant_failed("token id outside [0, vocab_size)");
  }
}

// Runs `encode`; invalid_argument is allowed only for invalid UTF-8.
template <class F>
void encode_checked(std::string_view text, F&& encode) {
  try {
    encode();
  } catch (const std::invalid_argument&) {
    if (valid_utf8(text)) avgzsl_fuzz::invariant_failed("invalid_argument on valid UTF-8 text");
  }
}

void write_gzip(const std::filesystem::path& path, std::string_view content) {
  gzFile f = gzopen(path.c_str(), "wb1");
  if (f == nullptr || (!content.empty() && gzwrite(f, content.data(), static_cast<unsigned>(content.size())) == 0) ||
      gzclose(f) != Z_OK) {
    avgzsl_fuzz::invariant_failed("cannot write the gzip input (harness)");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const unsigned control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const int limit = static_cast<int>(control >> 3);  // 0..31: also the invalid 0 and 1
  const bool flag = (control & 4) != 0;
  avgzsl_fuzz::clear_scratch();
  using namespace avgzsl::preprocessing;
  try {
    // RoBERTa and WordPiece: ids within the vocabulary, between 2 (start, end) and max_length of them.
    auto encode_bounded = [&](const auto& t, const std::string& text) {
      encode_checked(text, [&] {
        const int max_length = limit < 2 ? 2 : limit;
        const auto ids = t.encode(text, max_length);
        if (ids.size() > static_cast<size_t>(max_length) || ids.size() < 2) avgzsl_fuzz::invariant_failed("encode length");
        check_ids(ids, t.vocab_size());
      });
    };
    switch (control & 3) {
      case 0: {
        const auto parts = avgzsl_fuzz::split_parts(input, 3);
        avgzsl_fuzz::write_scratch("clip/vocab.json", parts[0]);
        if (parts.size() > 1) avgzsl_fuzz::write_scratch("clip/merges.txt", parts[1]);
        const std::string text(parts.size() > 2 ? parts[2] : std::string_view("a photo of a cat"));
        const ClipTokenizer t = ClipTokenizer::from_hugging_face(avgzsl_fuzz::scratch_dir() / "clip");
        encode_checked(text, [&] { check_ids(t.encode(text), t.vocab_size()); });
        encode_checked(text, [&] {
          const int context = limit < 1 ? 1 : limit;
          const auto ids = t.tokenize(text, context, true);
          if (ids.size() != static_cast<size_t>(context)) avgzsl_fuzz::invariant_failed("tokenize length");
          check_ids(ids, t.vocab_size());
        });
        break;
      }
      case 1: {
        const auto parts = avgzsl_fuzz::split_parts(input, 2);
        const auto path = avgzsl_fuzz::scratch_dir() / "bpe_simple_vocab_16e6.txt.gz";
        if (flag) {
          avgzsl_fuzz::write_scratch(path.filename().string(), parts[0]);
        } else {
          write_gzip(path, parts[0]);
        }
        const std::string text(parts.size() > 1 ? parts[1] : std::string_view("a photo of a cat"));
        const ClipTokenizer t = ClipTokenizer::from_openai_vocabulary(path);
        encode_checked(text, [&] { check_ids(t.encode(text), t.vocab_size()); });
        break;
      }
      case 2: {
        const auto parts = avgzsl_fuzz::split_parts(input, 3);
        const auto vocab = avgzsl_fuzz::write_scratch("vocab.json", parts[0]);
        const auto merges = avgzsl_fuzz::write_scratch("merges.txt", parts.size() > 1 ? parts[1] : std::string_view());
        const std::string text(parts.size() > 2 ? parts[2] : std::string_view("a dog barks"));
        const RobertaTokenizer t = RobertaTokenizer::from_files(vocab, merges, flag);
        encode_bounded(t, text);
        break;
      }
      case 3: {
        const auto parts = avgzsl_fuzz::split_parts(input, 2);
        const auto vocab = avgzsl_fuzz::write_scratch("vocab.txt", parts[0]);
        const std::string text(parts.size() > 1 ? parts[1] : std::string_view("a dog barks"));
        const WordPieceTokenizer t = WordPieceTokenizer::from_file(vocab, !flag);
        encode_bounded(t, text);
        break;
      }
    }
  } catch (const std::runtime_error& e) {
    avgzsl_fuzz::refused(e);
  }
  return 0;
}
