// A reader for the subset of Python pickles that research code writes for features and
// checkpoints: pickle protocols 2 to 5 of dicts (OrderedDicts too, with or without the
// `_metadata` that nn.Module.state_dict() attaches), lists, tuples, str, bytes, ints, floats,
// bools, None, numpy arrays, dtypes and scalars, and (optionally) the tensor records of a
// `torch.save` file (zip or legacy), torch.Size and nn.Parameter.
//
// Hand-written because no packaged C++ library reads numpy's pickles: LibTorch's unpickler does
// not know numpy's globals and stops on an optimizer state_dict. It is a parser of untrusted
// files, so:
//   - nothing is ever "called": an allow-listed global only selects one of the reconstructions
//     written below. Any other global is refused, or, where the caller asks for it (the parts of
//     a checkpoint that avgzsl does not read: optimizer, config, scaler), becomes an inert
//     kObject placeholder that only records the class name; reading a placeholder is an error
//     that names what was read;
//   - every length, offset, memo key and stack access is checked; errors name the file, the byte
//     offset and the problem;
//   - memory is bounded by the input size: every opcode creates at most one value, and strings,
//     bytes and array data together may not exceed the input size (a real pickle holds each
//     byte of data once; a hostile one could otherwise reference one buffer many times).
//
// This file does not depend on LibTorch, so the fuzz target (fuzz/) builds it alone.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace avgzsl::io {

enum class PyKind : uint8_t {
  kNone, kBool, kInt, kFloat, kStr, kBytes, kList, kTuple, kDict,
  kGlobal,   // an allowed global, e.g. "numpy.ndarray" (text = "module.name")
  kDType,    // numpy dtype; text = descr with byte order, e.g. "<f4", "|O8"
  kArray,    // numpy ndarray: shape, dtype (index), data (bytes) or items (object arrays)
  kStorage,  // torch storage reference from a persistent id: text = archive key, dtype, numel
  kTensor,   // torch tensor: items[0] = storage, shape/strides, integer = storage offset
  kObject,   // inert placeholder for an instance (or class) outside the allow-list, a set, or an
             // int beyond 64 bits: text = "module.name"; never constructed, never called
};
const char* to_string(PyKind kind);

using PyIndex = uint32_t;

struct PyValue {
  PyKind kind = PyKind::kNone;
  int64_t integer = 0;     // kBool, kInt; kTensor: storage offset; kStorage: numel
  double real = 0;         // kFloat
  std::string_view text;   // kStr (UTF-8), kBytes, kGlobal, kDType descr, kObject class; kArray: raw data; kStorage: key
  std::vector<PyIndex> items;  // kList, kTuple; kDict: key0, value0, key1, ...; object kArray; kTensor: storage
  std::vector<int64_t> shape;    // kArray, kTensor
  std::vector<int64_t> strides;  // kTensor (in elements)
  std::string dtype;             // kArray, kStorage: numpy-style descr, e.g. "<f4"
  bool fortran_order = false;    // kArray
  bool complete = false;         // kArray: state set (by BUILD or _frombuffer)
  int64_t view_offset = 0;       // kStorage: element offset of a legacy storage view in its root storage
};

struct PickleOptions {
  // Accept the globals of a torch.save data.pkl and its persistent ids.
  bool torch_archive = false;
  // Keep globals outside the allow-list as inert kObject placeholders instead of refusing the
  // file (for checkpoints, whose optimizer or config may hold objects avgzsl never reads).
  bool placeholders = false;
};

// The parsed object graph. Values live in one arena and refer to each other by index, so a
// hostile self-referencing pickle cannot leak or recurse.
class PickleDocument {
 public:
  const PyValue& at(PyIndex index) const { return values_.at(index); }
  PyIndex root() const { return root_; }
  size_t size() const { return values_.size(); }
  const std::string& source() const { return source_; }

  // Convenience accessors: each throws std::runtime_error "<source>: <what> ..." on a type
  // mismatch (a placeholder: "<what> is an object of class 'x.Y', which avgzsl does not read").
  // `what` names the thing for the message, e.g. "'features'".
  const PyValue& expect(PyIndex index, PyKind kind, const std::string& what) const;
  // Dict lookup by str (or bytes) key; nullptr when absent.
  const PyIndex* find(const PyValue& dict, std::string_view key) const;
  PyIndex get(const PyValue& dict, std::string_view key) const;  // throws when absent
  // Elements of a list or tuple (a 1-D object array is accepted too).
  const std::vector<PyIndex>& sequence(PyIndex index, const std::string& what) const;
  // The text of a str or bytes value.
  std::string_view text(PyIndex index, const std::string& what) const;

 private:
  friend class Unpickler;
  std::string source_;
  std::vector<PyValue> values_;
  std::deque<std::string> owned_;  // decoded strings that are not slices of the input
  PyIndex root_ = 0;
};

// Parses `data` (which must outlive the document: str/bytes/array data are views into it).
// `source` prefixes error messages (normally the file path).
PickleDocument parse_pickle(std::string_view data, const std::string& source, const PickleOptions& options = {});
// Parses the pickle at the start of `data` and sets `end` to the offset just past its STOP, for
// files that hold several pickles in a row (the legacy torch.save format). Error offsets are
// relative to `data`.
PickleDocument parse_pickle_prefix(std::string_view data, const std::string& source, const PickleOptions& options,
                                   size_t& end);

// "the dict", "a torch tensor", "an object of class 'x.Y'": a value's kind as a message says it.
std::string describe(const PickleDocument& doc, PyIndex index);

// Size in bytes of one element of a numpy descr such as "<f4" (0 for object dtypes).
int64_t numpy_item_size(std::string_view descr);

}  // namespace avgzsl::io
