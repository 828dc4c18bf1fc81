#include "avgzsl/io/numpy_file.h"

#include <cctype>
#include <limits>
#include <stdexcept>

namespace avgzsl::io {

namespace {

// The header is a Python literal of one dict with str keys and str, bool or tuple-of-int values;
// this reads exactly that grammar (hand-written, see the header comment).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        skip_space();
        if (peek() != '\'' && peek() != '"') fail("'descr' is not a simple dtype string (structured dtypes are not supported)");
        h.descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        h.shape = int_tuple();
        have_shape = true;
      } else {
        fail("unexpected header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}' in the header");
    }
    if (!have_descr || !have_order || !have_shape) fail("header lacks 'descr', 'fortran_order' or 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error(source_ + ": bad .npy header: " + what); }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    if (text_.substr(pos_, 4) == "True") { pos_ += 4; return true; }
    if (text_.substr(pos_, 5) == "False") { pos_ += 5; return false; }
    fail("expected True or False");
  }
  std::vector<int64_t> int_tuple() {
    expect('(');
    std::vector<int64_t> out;
    while (true) {
      skip_space();
      if (peek() == ')') { ++pos_; return out; }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("shape holds a non-integer");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("shape dimension too large");
        v = v * 10 + (text_[pos_++] - '0');
      }
      if (text_.substr(pos_, 1) == "L") ++pos_;  // Python 2 long literal
      out.push_back(v);
      skip_space();
      if (peek() == ',') ++pos_;
      else if (peek() != ')') fail("expected ',' or ')' in the shape");
    }
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
};

}  // namespace

NpyHeader parse_npy_header(std::string_view file, const std::string& source) {
  static constexpr std::string_view kMagic("\x93NUMPY", 6);
  if (file.size() < 10 || file.substr(0, 6) != kMagic) throw std::runtime_error(source + ": not a .npy file (bad magic)");
  const auto byte = [&](size_t i) { return static_cast<uint64_t>(static_cast<uint8_t>(file[i])); };
  const uint64_t major = byte(6);
  size_t length_size = 0;
  if (major == 1) length_size = 2;
  else if (major == 2 || major == 3) length_size = 4;
  else throw std::runtime_error(source + ": unsupported .npy version " + std::to_string(major));
  if (file.size() < 8 + length_size) throw std::runtime_error(source + ": truncated .npy header");
  uint64_t header_length = 0;
  for (size_t i = 0; i < length_size; ++i) header_length |= byte(8 + i) << (8 * i);
  const size_t start = 8 + length_size;
  if (header_length > file.size() - start) throw std::runtime_error(source + ": truncated .npy header");
  NpyHeader h = HeaderParser(file.substr(start, header_length), source).parse();
  h.data_offset = start + header_length;
  if (numpy_item_size(h.descr) < 0 && h.descr != "|O" && h.descr != "O") {
    throw std::runtime_error(source + ": unsupported dtype '" + h.descr + "'");
  }
  return h;
}

NpyObject parse_npy_object(std::string_view file, const std::string& source) {
  const NpyHeader h = parse_npy_header(file, source);
  if (h.descr != "|O" && h.descr != "O") {
    throw std::runtime_error(source + ": holds a " + h.descr + " array, expected a pickled object (np.save of a dict)");
  }
  NpyObject out{parse_pickle(file.substr(h.data_offset), source), 0};
  const PyValue& array = out.document.expect(out.document.root(), PyKind::kArray, "the pickled payload");
  if (array.items.size() != 1) {
    throw std::runtime_error(source + ": holds an object array of " + std::to_string(array.items.size()) +
                             " elements, expected a single object");
  }
  out.item = array.items[0];
  return out;
}

}  // namespace avgzsl::io
