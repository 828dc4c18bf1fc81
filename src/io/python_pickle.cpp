#include "avgzsl/io/python_pickle.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <unordered_map>

namespace avgzsl::io {

const char* to_string(PyKind kind) {
  switch (kind) {
    case PyKind::kNone: return "None";
    case PyKind::kBool: return "bool";
    case PyKind::kInt: return "int";
    case PyKind::kFloat: return "float";
    case PyKind::kStr: return "str";
    case PyKind::kBytes: return "bytes";
    case PyKind::kList: return "list";
    case PyKind::kTuple: return "tuple";
    case PyKind::kDict: return "dict";
    case PyKind::kGlobal: return "global";
    case PyKind::kDType: return "numpy dtype";
    case PyKind::kArray: return "numpy array";
    case PyKind::kStorage: return "torch storage";
    case PyKind::kTensor: return "torch tensor";
    case PyKind::kObject: return "object";
  }
  return "?";
}

int64_t numpy_item_size(std::string_view descr) {
  if (!descr.empty() && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=')) descr.remove_prefix(1);
  if (descr.size() < 2 || descr.size() > 3) return -1;
  const char kind = descr[0];
  if (kind == 'O') return 0;
  if (std::strchr("fiub?c", kind) == nullptr) return -1;
  int64_t size = 0;
  for (char c : descr.substr(1)) {
    if (c < '0' || c > '9') return -1;
    size = size * 10 + (c - '0');
  }
  return size == 1 || size == 2 || size == 4 || size == 8 || size == 16 ? size : -1;
}

namespace {

// Opcodes of pickle protocols 2 to 5 (Lib/pickle.py names).
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BININT = 'J', BININT1 = 'K',
  BININT2 = 'M', NONE = 'N', BINPERSID = 'Q', REDUCE = 'R', BINSTRING = 'T', SHORT_BINSTRING = 'U',
  BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}',
  APPENDS = 'e', BINGET = 'h', LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', BINPUT = 'q',
  LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  BINBYTES = 'B', SHORT_BINBYTES = 'C',
  PROTO = 0x80, NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88,
  NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
  BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
};

// The only globals a pickle may name. Each maps to a reconstruction in Unpickler::reduce.
enum class Global { kReconstruct, kNdarray, kDType, kFromBuffer, kScalar, kCodecsEncode, kOrderedDict,
                    kRebuildTensor, kRebuildParameter, kRebuildFromType, kSize };

struct AllowedGlobal {
  const char* name;
  Global global;
  bool torch_only;
};

constexpr AllowedGlobal kAllowedGlobals[] = {
    {"numpy.core.multiarray._reconstruct", Global::kReconstruct, false},
    {"numpy._core.multiarray._reconstruct", Global::kReconstruct, false},  // numpy >= 2
    {"numpy.ndarray", Global::kNdarray, false},
    {"numpy.dtype", Global::kDType, false},
    {"numpy.core.numeric._frombuffer", Global::kFromBuffer, false},
    {"numpy._core.numeric._frombuffer", Global::kFromBuffer, false},
    {"numpy.core.multiarray.scalar", Global::kScalar, false},  // np.float64(...) etc.
    {"numpy._core.multiarray.scalar", Global::kScalar, false},
    {"_codecs.encode", Global::kCodecsEncode, false},  // bytes under protocol 2
    {"collections.OrderedDict", Global::kOrderedDict, false},
    {"torch._utils._rebuild_tensor_v2", Global::kRebuildTensor, true},
    {"torch._utils._rebuild_parameter", Global::kRebuildParameter, true},
    {"torch._utils._rebuild_parameter_with_state", Global::kRebuildParameter, true},
    {"torch._tensor._rebuild_from_type_v2", Global::kRebuildFromType, true},  // tensors with Python attributes
    {"torch.Size", Global::kSize, true},
    // and the torch storage classes of storage_descr() below
};

// numpy descr of the elements of a torch storage class.
const char* storage_descr(std::string_view storage_class) {
  static const std::pair<const char*, const char*> table[] = {
      {"torch.FloatStorage", "<f4"}, {"torch.DoubleStorage", "<f8"}, {"torch.HalfStorage", "<f2"},
      {"torch.BFloat16Storage", "<bf16"}, {"torch.LongStorage", "<i8"}, {"torch.IntStorage", "<i4"},
      {"torch.ShortStorage", "<i2"}, {"torch.CharStorage", "|i1"}, {"torch.ByteStorage", "|u1"},
      {"torch.BoolStorage", "|b1"}};
  for (const auto& [name, descr] : table) {
    if (storage_class == name) return descr;
  }
  return nullptr;
}

}  // namespace

class Unpickler {
 public:
  Unpickler(std::string_view data, const std::string& source, const PickleOptions& options)
      : data_(data), options_(options) {
    doc_.source_ = source;
    // Reading, latin-1 decoding and array views may each touch a data byte once: a real pickle
    // stays within 4x its size; a hostile one that references a buffer many times does not.
    data_budget_ = 4 * static_cast<int64_t>(data.size()) + 65536;
  }

  size_t end() const { return pos_; }
  PickleDocument run() {
    while (true) {
      op_start_ = pos_;
      const uint8_t op = read_u8();
      if (op == STOP) break;
      step(op);
    }
    if (stack_.size() != 1 || !marks_.empty()) fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
    doc_.root_ = stack_.back();
    return std::move(doc_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(doc_.source_ + ": corrupt pickle at byte " + std::to_string(op_start_) + ": " + what);
  }

  // ---- input ----
  void need(size_t n) const {
    if (n > data_.size() - pos_) fail("truncated (needs " + std::to_string(n) + " more bytes)");
  }
  uint8_t read_u8() {
    need(1);
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint64_t read_le(size_t n) {
    need(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += n;
    return v;
  }
  std::string_view read_bytes(uint64_t n) {
    if (n > data_.size() - pos_) fail("truncated (a " + std::to_string(n) + "-byte string runs past the end)");
    spend(static_cast<int64_t>(n));
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view read_line() {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail("truncated (unterminated line)");
    std::string_view s = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  void spend(int64_t bytes) {
    data_budget_ -= bytes;
    if (data_budget_ < 0) fail("holds more data than the file size (hostile pickle?)");
  }

  // ---- values ----
  PyIndex add(PyValue v) {
    if (doc_.values_.size() >= std::numeric_limits<PyIndex>::max()) fail("too many values");
    doc_.values_.push_back(std::move(v));
    return static_cast<PyIndex>(doc_.values_.size() - 1);
  }
  PyIndex add_scalar(PyKind kind, int64_t integer = 0) {
    PyValue v;
    v.kind = kind;
    v.integer = integer;
    return add(std::move(v));
  }
  PyIndex add_text(PyKind kind, std::string_view text) {
    PyValue v;
    v.kind = kind;
    v.text = text;
    return add(std::move(v));
  }
  PyIndex add_owned_text(PyKind kind, std::string text) {
    doc_.owned_.push_back(std::move(text));
    return add_text(kind, doc_.owned_.back());
  }
  PyValue& value(PyIndex i) { return doc_.values_[i]; }

  // ---- stack ----
  void push(PyIndex i) { stack_.push_back(i); }
  PyIndex pop() {
    if (stack_.size() <= stack_floor()) fail("stack underflow");
    const PyIndex i = stack_.back();
    stack_.pop_back();
    return i;
  }
  PyIndex& top() {
    if (stack_.size() <= stack_floor()) fail("stack underflow");
    return stack_.back();
  }
  size_t stack_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // Pops everything above the last MARK, and the mark.
  std::vector<PyIndex> pop_to_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PyIndex> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }

  PyIndex add_tuple(std::vector<PyIndex> items) {
    PyValue v;
    v.kind = PyKind::kTuple;
    v.items = std::move(items);
    return add(std::move(v));
  }

  void memo_put(uint64_t key) {
    if (stack_.empty()) fail("memo store with an empty stack");
    memo_[key] = stack_.back();
  }
  void memo_get(uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " was never stored");
    push(it->second);
  }

  // LONG1/LONG4: an int beyond 64 bits becomes a placeholder (a checkpoint may hold one in a
  // part nobody reads; torch's legacy magic number is one).
  void push_long(uint64_t n) {
    if (n > 8) {
      read_bytes(n);
      push(placeholder("int beyond 64 bits"));
      return;
    }
    push(add_scalar(PyKind::kInt, read_long(n)));
  }
  int64_t read_long(uint64_t n) {
    if (n == 0) return 0;
    uint64_t v = read_le(static_cast<size_t>(n));
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }

  void append_items(PyIndex target, const std::vector<PyIndex>& items) {
    PyValue& t = value(target);
    if (t.kind == PyKind::kObject) return;  // a placeholder list subclass or set: items dropped
    if (t.kind != PyKind::kList) fail(std::string("APPEND to a ") + to_string(t.kind));
    t.items.insert(t.items.end(), items.begin(), items.end());
  }
  void set_items(PyIndex target, const std::vector<PyIndex>& items) {
    PyValue& t = value(target);
    if (t.kind == PyKind::kObject) return;  // a placeholder dict subclass: items dropped
    if (t.kind != PyKind::kDict) fail(std::string("SETITEM on a ") + to_string(t.kind));
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of values");
    t.items.insert(t.items.end(), items.begin(), items.end());
  }

  void push_global(std::string name) {
    // A global is one Python object however often it is named; writers that do not memoize
    // (ours, per array) repeat it, and one value then serves every occurrence.
    if (const auto seen = globals_.find(name); seen != globals_.end()) return push(seen->second);
    bool allowed = options_.torch_archive && storage_descr(name) != nullptr;
    for (const AllowedGlobal& g : kAllowedGlobals) allowed |= name == g.name && (!g.torch_only || options_.torch_archive);
    if (!allowed && !options_.placeholders) fail("global '" + name + "' is not allowed");
    const PyIndex index = add_owned_text(allowed ? PyKind::kGlobal : PyKind::kObject, std::move(name));
    if (allowed) globals_.emplace(doc_.values_[index].text, index);  // a view of the document's own copy
    push(index);
  }
  // An inert stand-in for what a call of a placeholder class would have made.
  PyIndex placeholder(std::string_view class_name) { return add_text(PyKind::kObject, class_name); }
  Global global_of(PyIndex i) const {
    const PyValue& v = doc_.values_[i];
    if (v.kind != PyKind::kGlobal) fail(std::string("call of a ") + to_string(v.kind));
    for (const AllowedGlobal& g : kAllowedGlobals) {
      if (v.text == g.name) return g.global;
    }
    fail("REDUCE of '" + std::string(v.text) + "' is not supported");  // a storage class is no callable
  }

  const PyValue& arg(const PyValue& args, size_t i, PyKind kind, const char* what) const {
    if (i >= args.items.size()) fail(std::string("missing argument ") + what);
    const PyValue& v = doc_.values_[args.items[i]];
    if (v.kind != kind) fail(std::string("argument ") + what + " is a " + to_string(v.kind) + ", expected " + to_string(kind));
    return v;
  }
  std::vector<int64_t> int_tuple(const PyValue& t, const char* what) const {
    if (t.kind != PyKind::kTuple && t.kind != PyKind::kList) fail(std::string(what) + " is not a tuple");
    std::vector<int64_t> out;
    for (PyIndex i : t.items) {
      const PyValue& v = doc_.values_[i];
      if (v.kind != PyKind::kInt || v.integer < 0) fail(std::string(what) + " holds a non-integer or negative value");
      out.push_back(v.integer);
    }
    return out;
  }
  int64_t element_count(const std::vector<int64_t>& shape) const {
    int64_t n = 1;
    for (int64_t d : shape) {
      if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) fail("array shape overflows");
      n *= d;
    }
    return n;
  }

  // Checks an array's data against its shape and dtype.
  void finish_array(PyValue& a) {
    const int64_t item = numpy_item_size(a.dtype);
    if (item < 0) fail("unsupported dtype '" + a.dtype + "'");
    const int64_t n = element_count(a.shape);
    if (item == 0) {
      spend(static_cast<int64_t>(a.items.size()));
      if (static_cast<int64_t>(a.items.size()) != n) fail("object array holds " + std::to_string(a.items.size()) + " items for " + std::to_string(n) + " elements");
    } else {
      if (n > std::numeric_limits<int64_t>::max() / item || static_cast<int64_t>(a.text.size()) != n * item) {
        fail("array data has " + std::to_string(a.text.size()) + " bytes, shape and dtype need " + std::to_string(n) + " x " + std::to_string(item));
      }
      spend(static_cast<int64_t>(a.text.size()));  // arrays sharing one buffer count once each
    }
    a.complete = true;
  }

  // REDUCE: callable(*args) for the allowed callables only; a placeholder class gives a
  // placeholder instance, and nothing runs.
  PyIndex reduce(PyIndex callable, PyIndex args_index, int depth = 0) {
    if (doc_.values_[callable].kind == PyKind::kObject) return placeholder(doc_.values_[callable].text);
    const PyValue& args = doc_.values_[args_index];
    if (args.kind != PyKind::kTuple) fail("REDUCE arguments are not a tuple");
    switch (global_of(callable)) {
      case Global::kReconstruct: {  // _reconstruct(ndarray, (0,), b'b'); BUILD fills it
        const PyValue& cls = arg(args, 0, PyKind::kGlobal, "0 of _reconstruct");
        if (cls.text != "numpy.ndarray") fail("_reconstruct of something other than numpy.ndarray");
        PyValue a;
        a.kind = PyKind::kArray;
        return add(std::move(a));
      }
      case Global::kDType: {  // dtype('f4', False, True); BUILD sets the byte order
        const PyValue& descr = arg(args, 0, PyKind::kStr, "0 of dtype");
        std::string d(descr.text);
        if (numpy_item_size(d) < 0) fail("unsupported dtype '" + d + "'");
        if (std::string_view("<>|=").find(d[0]) != std::string_view::npos) d.erase(0, 1);
        return add_owned_text(PyKind::kDType, (d[0] == 'O' || d[1] == '1' ? "|" : "<") + d);
      }
      case Global::kFromBuffer: {  // _frombuffer(buffer, dtype, shape, order), protocol 5
        const PyValue& buffer = doc_.values_[args.items.empty() ? 0 : args.items[0]];
        if (args.items.empty() || buffer.kind != PyKind::kBytes) fail("_frombuffer without a bytes buffer");
        const PyValue& dtype = arg(args, 1, PyKind::kDType, "1 of _frombuffer");
        if (args.items.size() < 3) fail("_frombuffer without a shape");
        PyValue a;
        a.kind = PyKind::kArray;
        a.text = buffer.text;
        a.dtype = std::string(dtype.text);
        a.shape = int_tuple(doc_.values_[args.items[2]], "_frombuffer shape");
        if (args.items.size() > 3) {
          const PyValue& order = arg(args, 3, PyKind::kStr, "3 of _frombuffer");
          a.fortran_order = order.text == "F";
        }
        finish_array(a);
        return add(std::move(a));
      }
      case Global::kCodecsEncode: {  // encode(str, 'latin1'): bytes under protocol 2
        const PyValue& text = arg(args, 0, PyKind::kStr, "0 of _codecs.encode");
        const PyValue& codec = arg(args, 1, PyKind::kStr, "1 of _codecs.encode");
        if (codec.text != "latin1" && codec.text != "latin-1") fail("_codecs.encode with codec '" + std::string(codec.text) + "'");
        return add_owned_text(PyKind::kBytes, latin1_from_utf8(text.text));
      }
      case Global::kOrderedDict: {
        if (!args.items.empty()) fail("OrderedDict with arguments");
        PyValue d;
        d.kind = PyKind::kDict;
        return add(std::move(d));
      }
      case Global::kRebuildTensor: {  // (storage, offset, size, stride, requires_grad, hooks[, metadata])
        const PyValue& storage = arg(args, 0, PyKind::kStorage, "0 of _rebuild_tensor_v2");
        (void)storage;
        PyValue t;
        t.kind = PyKind::kTensor;
        t.items = {args.items[0]};
        t.integer = arg(args, 1, PyKind::kInt, "1 of _rebuild_tensor_v2").integer;
        if (args.items.size() < 4) fail("_rebuild_tensor_v2 without size and stride");
        t.shape = int_tuple(doc_.values_[args.items[2]], "tensor size");
        t.strides = int_tuple(doc_.values_[args.items[3]], "tensor stride");
        if (t.shape.size() != t.strides.size()) fail("tensor size and stride differ in length");
        t.dtype = doc_.values_[args.items[0]].dtype;
        return add(std::move(t));
      }
      case Global::kRebuildParameter: {  // (tensor, requires_grad, hooks[, state])
        arg(args, 0, PyKind::kTensor, "0 of _rebuild_parameter");
        return args.items[0];
      }
      case Global::kRebuildFromType: {  // (func, type, func_args, state): func(*func_args); the type's state is dropped
        if (depth > 0) fail("nested _rebuild_from_type_v2");
        if (args.items.size() < 3) fail("_rebuild_from_type_v2 with fewer than 3 arguments");
        return reduce(args.items[0], args.items[2], depth + 1);
      }
      case Global::kSize: {  // torch.Size((d0, d1, ...)) -> the tuple
        const PyValue& dims = arg(args, 0, PyKind::kTuple, "0 of torch.Size");
        int_tuple(dims, "torch.Size");
        return args.items[0];
      }
      case Global::kScalar: {  // scalar(dtype, raw bytes): a numpy scalar such as np.float64(0.5)
        const PyValue& dtype = arg(args, 0, PyKind::kDType, "0 of numpy scalar");
        if (args.items.size() < 2) fail("numpy scalar without data");
        const PyValue& raw = doc_.values_[args.items[1]];
        if (raw.kind != PyKind::kBytes && raw.kind != PyKind::kStr) fail("numpy scalar data is not bytes");
        return add_numpy_scalar(dtype.text, raw.text);
      }
      case Global::kNdarray:
        break;
    }
    fail("REDUCE of '" + std::string(doc_.values_[callable].text) + "' is not supported");
  }

  // A numpy scalar of a little-endian (or single-byte) numeric dtype as a Python int or float;
  // other dtypes become placeholders.
  PyIndex add_numpy_scalar(std::string_view descr, std::string_view raw) {
    const int64_t size = numpy_item_size(descr);
    if (size <= 0 || static_cast<int64_t>(raw.size()) != size) fail("numpy scalar of " + std::to_string(raw.size()) + " bytes for dtype " + std::string(descr));
    if (descr[0] == '>' && size > 1) return placeholder("numpy big-endian scalar");
    const char kind = descr[1];
    uint64_t bits = 0;
    std::memcpy(&bits, raw.data(), static_cast<size_t>(std::min<int64_t>(size, 8)));
    PyValue v;
    if (kind == 'f' && size == 8) {
      v.kind = PyKind::kFloat;
      std::memcpy(&v.real, &bits, 8);
    } else if (kind == 'f' && size == 4) {
      float f;
      std::memcpy(&f, &bits, 4);
      v.kind = PyKind::kFloat;
      v.real = f;
    } else if (kind == 'i' || kind == 'u' || kind == 'b') {
      v.kind = kind == 'b' ? PyKind::kBool : PyKind::kInt;
      if (kind == 'i' && size < 8 && (bits >> (8 * size - 1)) & 1) bits |= ~uint64_t{0} << (8 * size);
      if (kind == 'u' && size == 8 && (bits >> 63)) return placeholder("numpy uint64 beyond int64");
      v.integer = static_cast<int64_t>(bits);
    } else {
      return placeholder("numpy." + std::string(descr) + " scalar");
    }
    return add(std::move(v));
  }

  std::string latin1_from_utf8(std::string_view s) {
    spend(static_cast<int64_t>(s.size()));
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<uint8_t>(s[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size() && (static_cast<uint8_t>(s[i + 1]) & 0xC0) == 0x80) {
        out.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(s[i + 1]) & 0x3F)));
        ++i;
      } else {
        fail("_codecs.encode of a character outside latin-1");
      }
    }
    return out;
  }

  // BUILD: sets the state of an array or a dtype. The state of a dict (an OrderedDict's
  // attributes, such as a state_dict's `_metadata`), a tensor (its Python attributes) or a
  // placeholder is not needed by any reader and is dropped.
  void build(PyIndex target, PyIndex state_index) {
    PyValue& t = value(target);
    const PyValue& state = doc_.values_[state_index];
    if (t.kind == PyKind::kDict || t.kind == PyKind::kTensor || t.kind == PyKind::kObject) return;
    if (t.kind == PyKind::kDType) {
      // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
      if (state.kind != PyKind::kTuple || state.items.size() < 2) fail("dtype state is not a tuple");
      const PyValue& order = doc_.values_[state.items[1]];
      if (order.kind != PyKind::kStr || order.text.size() != 1 || std::string_view("<>|=").find(order.text[0]) == std::string_view::npos) {
        fail("dtype byte order is not one of < > | =");
      }
      for (size_t i = 2; i < std::min<size_t>(5, state.items.size()); ++i) {
        if (doc_.values_[state.items[i]].kind != PyKind::kNone) fail("structured or sub-array dtypes are not supported");
      }
      std::string descr(t.text);
      descr[0] = order.text[0] == '=' ? '<' : order.text[0];  // '=' is native: little-endian here
      t.text = doc_.owned_.emplace_back(std::move(descr));
      return;
    }
    if (t.kind == PyKind::kArray && !t.complete) {
      // (version, shape, dtype, is_fortran, data)
      if (state.kind != PyKind::kTuple || state.items.size() != 5) fail("ndarray state is not a 5-tuple");
      const std::vector<int64_t> shape = int_tuple(doc_.values_[state.items[1]], "ndarray shape");
      const PyValue& dtype = doc_.values_[state.items[2]];
      if (dtype.kind != PyKind::kDType) fail("ndarray state without a dtype");
      const PyValue& fortran = doc_.values_[state.items[3]];
      const PyValue& data = doc_.values_[state.items[4]];
      PyValue& a = value(target);
      a.shape = shape;
      a.dtype = std::string(dtype.text);
      a.fortran_order = fortran.kind == PyKind::kBool && fortran.integer != 0;
      if (numpy_item_size(a.dtype) == 0) {
        if (data.kind != PyKind::kList) fail("object array data is not a list");
        a.items = data.items;
      } else if (data.kind == PyKind::kBytes || data.kind == PyKind::kStr) {
        a.text = data.text;  // kStr: Python 2 pickles keep the raw data in a (byte) str
      } else {
        fail("ndarray data is a " + std::string(to_string(data.kind)));
      }
      finish_array(a);
      return;
    }
    fail(std::string("BUILD on a ") + to_string(t.kind));
  }

  // BINPERSID in a torch.save data.pkl: ('storage', storage_class, key, location, numel), and
  // in the legacy format ('storage', storage_class, root_key, location, root_numel, view) with
  // view None or (view_key, element_offset, view_numel).
  PyIndex persistent_load(PyIndex pid_index) {
    if (!options_.torch_archive) fail("persistent id outside a torch archive");
    const PyValue& pid = doc_.values_[pid_index];
    if (pid.kind != PyKind::kTuple || (pid.items.size() != 5 && pid.items.size() != 6)) fail("persistent id is not a 5- or 6-tuple");
    const PyValue& tag = arg(pid, 0, PyKind::kStr, "0 of persistent id");
    if (tag.text != "storage") fail("persistent id tag '" + std::string(tag.text) + "'");
    const PyValue& cls = arg(pid, 1, PyKind::kGlobal, "1 of persistent id");
    const char* descr = storage_descr(cls.text);
    if (descr == nullptr) fail("storage class '" + std::string(cls.text) + "'");
    const PyValue& key = arg(pid, 2, PyKind::kStr, "2 of persistent id");
    const PyValue& numel = arg(pid, 4, PyKind::kInt, "4 of persistent id");
    if (numel.integer < 0) fail("negative storage size");
    PyValue s;
    s.kind = PyKind::kStorage;
    s.text = key.text;
    s.dtype = descr;
    s.integer = numel.integer;
    if (pid.items.size() == 6 && doc_.values_[pid.items[5]].kind != PyKind::kNone) {
      const PyValue& view = doc_.values_[pid.items[5]];
      if (view.kind != PyKind::kTuple || view.items.size() != 3) fail("storage view metadata is not a 3-tuple");
      const int64_t offset = arg(view, 1, PyKind::kInt, "1 of storage view").integer;
      const int64_t size = arg(view, 2, PyKind::kInt, "2 of storage view").integer;
      if (offset < 0 || size < 0 || offset > numel.integer || size > numel.integer - offset) fail("storage view outside its root storage");
      s.view_offset = offset;
    }
    return add(std::move(s));
  }

  void step(uint8_t op) {
    switch (op) {
      case PROTO: {
        const uint8_t version = read_u8();
        if (version < 2 || version > 5) fail("pickle protocol " + std::to_string(version) + " (supported: 2 to 5)");
        return;
      }
      case FRAME: read_le(8); return;  // frames only group opcodes; their bounds are checked per read
      case MARK: marks_.push_back(stack_.size()); return;
      case POP: pop(); return;
      case POP_MARK: pop_to_mark(); return;
      case DUP: push(top()); return;
      case NONE: push(add_scalar(PyKind::kNone)); return;
      case NEWTRUE: push(add_scalar(PyKind::kBool, 1)); return;
      case NEWFALSE: push(add_scalar(PyKind::kBool, 0)); return;
      case BININT: push(add_scalar(PyKind::kInt, static_cast<int32_t>(read_le(4)))); return;
      case BININT1: push(add_scalar(PyKind::kInt, read_u8())); return;
      case BININT2: push(add_scalar(PyKind::kInt, static_cast<int64_t>(read_le(2)))); return;
      case LONG1: push_long(read_u8()); return;
      case LONG4: push_long(read_le(4)); return;
      case BINFLOAT: {
        const uint64_t bits = read_le(8);
        uint64_t be = 0;  // BINFLOAT is big-endian
        for (int i = 0; i < 8; ++i) be |= ((bits >> (8 * i)) & 0xFF) << (8 * (7 - i));
        PyValue v;
        v.kind = PyKind::kFloat;
        std::memcpy(&v.real, &be, sizeof(double));
        push(add(std::move(v)));
        return;
      }
      case SHORT_BINUNICODE: push(add_text(PyKind::kStr, read_bytes(read_u8()))); return;
      case BINUNICODE: push(add_text(PyKind::kStr, read_bytes(read_le(4)))); return;
      case BINUNICODE8: push(add_text(PyKind::kStr, read_bytes(read_le(8)))); return;
      case SHORT_BINSTRING: push(add_text(PyKind::kStr, read_bytes(read_u8()))); return;  // Python 2 str
      case BINSTRING: push(add_text(PyKind::kStr, read_bytes(read_le(4)))); return;
      case SHORT_BINBYTES: push(add_text(PyKind::kBytes, read_bytes(read_u8()))); return;
      case BINBYTES: push(add_text(PyKind::kBytes, read_bytes(read_le(4)))); return;
      case BINBYTES8: push(add_text(PyKind::kBytes, read_bytes(read_le(8)))); return;
      case BYTEARRAY8: push(add_text(PyKind::kBytes, read_bytes(read_le(8)))); return;
      case EMPTY_LIST: push(add_scalar(PyKind::kList)); return;
      case EMPTY_DICT: push(add_scalar(PyKind::kDict)); return;
      case EMPTY_TUPLE: push(add_tuple({})); return;
      case TUPLE1: case TUPLE2: case TUPLE3: {
        const size_t n = op - TUPLE1 + 1;
        std::vector<PyIndex> items(n);
        for (size_t i = n; i-- > 0;) items[i] = pop();
        push(add_tuple(std::move(items)));
        return;
      }
      case TUPLE: push(add_tuple(pop_to_mark())); return;
      case LIST: {
        PyValue v;
        v.kind = PyKind::kList;
        v.items = pop_to_mark();
        push(add(std::move(v)));
        return;
      }
      case DICT: {
        PyValue v;
        v.kind = PyKind::kDict;
        v.items = pop_to_mark();
        if (v.items.size() % 2 != 0) fail("DICT with an odd number of values");
        push(add(std::move(v)));
        return;
      }
      case APPEND: {
        const PyIndex item = pop();
        append_items(top(), {item});
        return;
      }
      case APPENDS: {
        const std::vector<PyIndex> items = pop_to_mark();
        append_items(top(), items);
        return;
      }
      case SETITEM: {
        const PyIndex v = pop();
        const PyIndex k = pop();
        set_items(top(), {k, v});
        return;
      }
      case SETITEMS: {
        const std::vector<PyIndex> items = pop_to_mark();
        set_items(top(), items);
        return;
      }
      case BINPUT: memo_put(read_u8()); return;
      case LONG_BINPUT: memo_put(read_le(4)); return;
      case MEMOIZE: memo_put(memo_.size()); return;
      case BINGET: memo_get(read_u8()); return;
      case LONG_BINGET: memo_get(read_le(4)); return;
      case GLOBAL: {
        const std::string_view module = read_line();
        const std::string_view name = read_line();
        push_global(std::string(module) + "." + std::string(name));
        return;
      }
      case STACK_GLOBAL: {
        const PyIndex name = pop();
        const PyIndex module = pop();
        if (doc_.values_[name].kind != PyKind::kStr || doc_.values_[module].kind != PyKind::kStr) fail("STACK_GLOBAL of non-strings");
        push_global(std::string(doc_.values_[module].text) + "." + std::string(doc_.values_[name].text));
        return;
      }
      case REDUCE: {
        const PyIndex args = pop();
        const PyIndex callable = pop();
        push(reduce(callable, args));
        return;
      }
      case NEWOBJ: {  // cls.__new__(cls, *args): only placeholders, nothing allowed is built this way
        pop();
        const PyIndex cls = pop();
        push(new_object(cls));
        return;
      }
      case NEWOBJ_EX: {
        pop();
        pop();
        const PyIndex cls = pop();
        push(new_object(cls));
        return;
      }
      case EMPTY_SET: push(placeholder_set("builtins.set")); return;
      case ADDITEMS: {
        const std::vector<PyIndex> items = pop_to_mark();
        append_items(top(), items);
        return;
      }
      case FROZENSET: pop_to_mark(); push(placeholder_set("builtins.frozenset")); return;
      case BUILD: {
        const PyIndex state = pop();
        build(top(), state);
        return;
      }
      case BINPERSID: {
        const PyIndex pid = pop();
        push(persistent_load(pid));
        return;
      }
      case NEXT_BUFFER: case READONLY_BUFFER: fail("out-of-band buffers are not supported");
      default: {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02x", op);
        fail(std::string("unsupported opcode ") + hex);
      }
    }
  }

  PyIndex new_object(PyIndex cls) {
    const PyValue& c = doc_.values_[cls];
    if (c.kind != PyKind::kObject) fail(std::string("NEWOBJ of a ") + to_string(c.kind));
    return placeholder(c.text);
  }
  PyIndex placeholder_set(std::string_view name) {
    if (!options_.placeholders) fail("sets are not supported");
    return placeholder(name);
  }

  std::string_view data_;
  PickleOptions options_;
  PickleDocument doc_;
  size_t pos_ = 0;
  size_t op_start_ = 0;
  int64_t data_budget_ = 0;
  std::vector<PyIndex> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyIndex> memo_;
  std::unordered_map<std::string_view, PyIndex> globals_;  // allowed globals by name
};

PickleDocument parse_pickle(std::string_view data, const std::string& source, const PickleOptions& options) {
  return Unpickler(data, source, options).run();
}

PickleDocument parse_pickle_prefix(std::string_view data, const std::string& source, const PickleOptions& options,
                                   size_t& end) {
  Unpickler unpickler(data, source, options);
  PickleDocument doc = unpickler.run();
  end = unpickler.end();
  return doc;
}

std::string describe(const PickleDocument& doc, PyIndex index) {
  const PyValue& v = doc.at(index);
  if (v.kind == PyKind::kObject) return "an object of class '" + std::string(v.text) + "', which avgzsl does not read";
  return std::string(v.kind == PyKind::kInt ? "an " : "a ") + to_string(v.kind);
}

const PyValue& PickleDocument::expect(PyIndex index, PyKind kind, const std::string& what) const {
  const PyValue& v = values_.at(index);
  if (v.kind != kind) {
    throw std::runtime_error(source_ + ": " + what + " is " + describe(*this, index) + ", expected a " + to_string(kind));
  }
  return v;
}

const PyIndex* PickleDocument::find(const PyValue& dict, std::string_view key) const {
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const PyValue& k = values_[dict.items[i]];
    if ((k.kind == PyKind::kStr || k.kind == PyKind::kBytes) && k.text == key) return &dict.items[i + 1];
  }
  return nullptr;
}

PyIndex PickleDocument::get(const PyValue& dict, std::string_view key) const {
  const PyIndex* v = find(dict, key);
  if (v == nullptr) throw std::runtime_error(source_ + ": no key '" + std::string(key) + "'");
  return *v;
}

const std::vector<PyIndex>& PickleDocument::sequence(PyIndex index, const std::string& what) const {
  const PyValue& v = values_.at(index);
  if (v.kind == PyKind::kList || v.kind == PyKind::kTuple) return v.items;
  if (v.kind == PyKind::kArray && numpy_item_size(v.dtype) == 0 && v.shape.size() == 1) return v.items;
  throw std::runtime_error(source_ + ": " + what + " is " + describe(*this, index) + ", expected a list");
}

std::string_view PickleDocument::text(PyIndex index, const std::string& what) const {
  const PyValue& v = values_.at(index);
  if (v.kind == PyKind::kStr || v.kind == PyKind::kBytes) return v.text;
  throw std::runtime_error(source_ + ": " + what + " is " + describe(*this, index) + ", expected str or bytes");
}

}  // namespace avgzsl::io
