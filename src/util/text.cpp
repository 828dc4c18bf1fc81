#include "avgzsl/util/text.h"

#include <algorithm>

namespace avgzsl::util {

uint64_t stable_hash(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

size_t first_invalid_utf8(std::string_view text) {
  // Hand-written: a few lines, and the tokenizers' decoder lives in a layer above this one.
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char b = bytes[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0, minimum = 0;
    if ((b & 0xE0) == 0xC0) length = 2, code = b & 0x1F, minimum = 0x80;
    else if ((b & 0xF0) == 0xE0) length = 3, code = b & 0x0F, minimum = 0x800;
    else if ((b & 0xF8) == 0xF0) length = 4, code = b & 0x07, minimum = 0x10000;
    else return i;
    if (i + length > n) return i;
    for (size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return i;
      code = (code << 6) | (bytes[i + k] & 0x3F);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += length;
  }
  return std::string::npos;
}

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;  // &apos; is not HTML 4
      default: out += c;
    }
  }
  return out;
}

std::string binary_text_problem(std::string_view text) {
  const size_t bad_utf8 = first_invalid_utf8(text);
  const size_t first_bad = std::min(bad_utf8, text.find('\0'));
  if (first_bad == std::string::npos) return "";
  size_t line = 1;
  for (size_t i = 0; i < first_bad; ++i) line += text[i] == '\n';
  const bool nul = text[first_bad] == '\0';
  return "line " + std::to_string(line) + ": " + (nul ? "a NUL byte" : "bytes that are not UTF-8") +
         " (a binary file? expected UTF-8 text)";
}

}  // namespace avgzsl::util
