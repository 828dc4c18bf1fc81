// Writes Python pickles (protocol 4) of the values the feature release holds: dicts, lists, str,
// ints, float32 numpy arrays, and the 0-d object array that np.save writes for a dict. What it
// writes loads with Python's pickle.load and numpy, and with parse_pickle.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace avgzsl::io {

class PickleWriter {
 public:
  PickleWriter();

  void none();
  void boolean(bool value);
  void integer(int64_t value);
  void str(std::string_view text);
  void bytes(std::string_view data);
  // numpy.ndarray of float32 (little-endian), C order.
  void float32_array(const float* data, const std::vector<int64_t>& shape);

  // Containers: begin, write the items (dict: key, value, key, value, ...), end.
  void begin_list();
  void end_list();
  void begin_dict();
  void end_dict();
  // A 0-d numpy object array holding one object (what np.save pickles for a dict).
  void begin_object_scalar();
  void end_object_scalar();

  // Appends STOP and returns the pickle.
  std::string finish();

 private:
  void op(uint8_t code) { out_.push_back(static_cast<char>(code)); }
  void le(uint64_t value, int bytes);
  void global(std::string_view module, std::string_view name);
  void dtype(std::string_view descr, char byte_order, int64_t flags);
  void begin_array_state();
  std::string out_;
};

// A whole .npy file (format 1.0) whose payload is the pickle `payload` of a 0-d object array.
std::string npy_object_file(std::string_view payload);

// What np.save(path, {name: float32 vector}) writes: `rows` holds names.size() x dim floats.
std::string vector_dict_npy(const std::vector<std::string>& names, const float* rows, int64_t dim);

}  // namespace avgzsl::io
