#include "avgzsl/io/pickle_writer.h"

#include <stdexcept>

namespace avgzsl::io {

namespace {
// Opcodes (Lib/pickle.py names).
constexpr uint8_t kProto = 0x80, kStop = '.', kMark = '(', kNone = 'N', kTrue = 0x88, kFalse = 0x89,
                  kBinInt = 'J', kLong1 = 0x8a, kShortBinUnicode = 0x8c, kBinUnicode = 'X', kBinBytes = 'B',
                  kEmptyList = ']', kAppends = 'e', kEmptyDict = '}', kSetItems = 'u', kEmptyTuple = ')',
                  kTuple = 't', kTuple1 = 0x85, kTuple3 = 0x87, kGlobal = 'c', kReduce = 'R', kBuild = 'b';
}  // namespace

PickleWriter::PickleWriter() {
  op(kProto);
  op(4);
}

void PickleWriter::le(uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

void PickleWriter::none() { op(kNone); }
void PickleWriter::boolean(bool value) { op(value ? kTrue : kFalse); }

void PickleWriter::integer(int64_t value) {
  if (value >= INT32_MIN && value <= INT32_MAX) {
    op(kBinInt);
    le(static_cast<uint32_t>(static_cast<int32_t>(value)), 4);
  } else {
    op(kLong1);
    op(8);
    le(static_cast<uint64_t>(value), 8);
  }
}

void PickleWriter::str(std::string_view text) {
  if (text.size() < 256) {
    op(kShortBinUnicode);
    op(static_cast<uint8_t>(text.size()));
  } else {
    if (text.size() > UINT32_MAX) throw std::invalid_argument("string too long for a pickle");
    op(kBinUnicode);
    le(text.size(), 4);
  }
  out_.append(text);
}

void PickleWriter::bytes(std::string_view data) {
  if (data.size() > UINT32_MAX) throw std::invalid_argument("bytes too long for a pickle");
  op(kBinBytes);
  le(data.size(), 4);
  out_.append(data);
}

void PickleWriter::global(std::string_view module, std::string_view name) {
  op(kGlobal);
  out_.append(module);
  out_.push_back('\n');
  out_.append(name);
  out_.push_back('\n');
}

// numpy.dtype(descr, False, True) with its pickled state (version 3).
void PickleWriter::dtype(std::string_view descr, char byte_order, int64_t flags) {
  global("numpy", "dtype");
  str(descr);
  boolean(false);
  boolean(true);
  op(kTuple3);
  op(kReduce);
  op(kMark);
  integer(3);
  str(std::string_view(&byte_order, 1));
  none();
  none();
  none();
  integer(-1);
  integer(-1);
  integer(flags);
  op(kTuple);
  op(kBuild);
}

// numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b'), then BUILD with
// (1, shape, dtype, is_fortran, data): how numpy pickles an array below protocol 5. This writes
// the call and opens the state tuple up to its version; the caller adds the rest.
void PickleWriter::begin_array_state() {
  global("numpy.core.multiarray", "_reconstruct");
  global("numpy", "ndarray");
  integer(0);
  op(kTuple1);
  bytes("b");
  op(kTuple3);
  op(kReduce);
  op(kMark);
  integer(1);
}

void PickleWriter::float32_array(const float* data, const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  begin_array_state();
  op(kMark);
  for (int64_t d : shape) integer(d);
  op(kTuple);
  dtype("f4", '<', 0);
  boolean(false);
  bytes(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(count) * sizeof(float)));
  op(kTuple);
  op(kBuild);
}

void PickleWriter::begin_list() {
  op(kEmptyList);
  op(kMark);
}
void PickleWriter::end_list() { op(kAppends); }
void PickleWriter::begin_dict() {
  op(kEmptyDict);
  op(kMark);
}
void PickleWriter::end_dict() { op(kSetItems); }

void PickleWriter::begin_object_scalar() {
  begin_array_state();
  op(kEmptyTuple);
  dtype("O8", '|', 63);  // 63: numpy's flags for object dtypes
  boolean(false);
  begin_list();
}

void PickleWriter::end_object_scalar() {
  end_list();
  op(kTuple);
  op(kBuild);
}

std::string PickleWriter::finish() {
  op(kStop);
  return std::move(out_);
}

std::string npy_object_file(std::string_view payload) {
  std::string header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
  // magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string file("\x93NUMPY\x01\x00", 8);
  file.push_back(static_cast<char>(header.size() & 0xFF));
  file.push_back(static_cast<char>(header.size() >> 8));
  file += header;
  file.append(payload);
  return file;
}

std::string vector_dict_npy(const std::vector<std::string>& names, const float* rows, int64_t dim) {
  PickleWriter w;
  w.begin_object_scalar();
  w.begin_dict();
  for (size_t c = 0; c < names.size(); ++c) {
    w.str(names[c]);
    w.float32_array(rows + static_cast<int64_t>(c) * dim, {dim});
  }
  w.end_dict();
  w.end_object_scalar();
  return npy_object_file(w.finish());
}

}  // namespace avgzsl::io
