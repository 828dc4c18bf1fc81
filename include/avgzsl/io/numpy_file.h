// numpy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// a magic string, a header that is a Python dict literal {'descr', 'fortran_order', 'shape'},
// then the raw data, or, for object arrays ('|O'), a pickle of the array.
//
// Hand-written: no Debian C++ package reads .npy files (and none reads their pickled payload).
// Torch-free like python_pickle.h, so the fuzz target can include it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "avgzsl/io/python_pickle.h"

namespace avgzsl::io {

struct NpyHeader {
  std::string descr;           // e.g. "<f4", "|O"
  bool fortran_order = false;
  std::vector<int64_t> shape;
  size_t data_offset = 0;      // where the data (or the pickle) starts
};

// Parses and checks the header; throws std::runtime_error "<source>: ..." on any defect.
NpyHeader parse_npy_header(std::string_view file, const std::string& source);

// An .npy file written by np.save of a Python object (np.save(path, {name: vector})), as read
// back by np.load(path, allow_pickle=True).item(): the pickled 0-d object array's only element.
// The document's root is the array; `item` is the element's index.
struct NpyObject {
  PickleDocument document;
  PyIndex item = 0;
};
NpyObject parse_npy_object(std::string_view file, const std::string& source);

}  // namespace avgzsl::io
