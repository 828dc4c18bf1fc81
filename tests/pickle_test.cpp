// The pickle and .npy readers against files written by Python's pickle and numpy
// (tests/fixtures/make_release_fixtures.py), truncations, mutations and hostile inputs.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/numpy_file.h"
#include "avgzsl/io/pickle_writer.h"
#include "avgzsl/io/python_pickle.h"
#include "test_support.h"

namespace avgzsl::io {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

fs::path release_file(const std::string& tree, const std::string& relative) {
  return testing::fixture_dir() / "clipclap_release" / tree / "UCF" / relative;
}

const char* kArcheryVideo = "features/cls_features_non_averaged/video/stage_1_train/Archery.pkl";
const char* kClipText = "features/cls_features_non_averaged/text/word_embeddings_ucf_normed.npy";

// Parses, expecting success or a std::runtime_error; anything else fails the test.
bool parses_or_refuses(std::string_view data) {
  try {
    parse_pickle(data, "mutant");
    return true;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("mutant"), std::string::npos) << e.what();
    return false;
  }
}

TEST(PickleReader, ReadsFeatureFilesOfEveryProtocol) {
  for (const std::string tree : {"release_p2", "release_p4", "release_p5"}) {
    SCOPED_TRACE(tree);
    const std::string data = read_file(release_file(tree, kArcheryVideo));
    const PickleDocument doc = parse_pickle(data, tree);
    const PyValue& dict = doc.expect(doc.root(), PyKind::kDict, "root");
    const auto& features = doc.sequence(doc.get(dict, "features"), "features");
    const auto& names = doc.sequence(doc.get(dict, "video_names"), "names");
    const auto& fps = doc.sequence(doc.get(dict, "fps"), "fps");
    ASSERT_EQ(features.size(), 4u);  // "Archery": 3 + len("Archery") % 3 videos
    ASSERT_EQ(names.size(), 4u);
    EXPECT_EQ(doc.at(fps[0]).integer, 25);
    // bytes names in the p2/p5 trees, str in p4; the text is the same
    EXPECT_EQ(doc.at(names[0]).kind, tree == "release_p4" ? PyKind::kStr : PyKind::kBytes);
    EXPECT_EQ(doc.text(names[0], "name"), "v_Archery_g100");
    const PyValue& a = doc.at(features[0]);
    EXPECT_EQ(a.kind, PyKind::kArray);
    EXPECT_EQ(a.dtype, "<f4");
    EXPECT_EQ(a.shape, std::vector<int64_t>{8});
    EXPECT_EQ(a.text.size(), 32u);
  }
}

TEST(PickleReader, SameValuesWhateverTheProtocol) {
  std::vector<std::string> payloads;
  for (const std::string tree : {"release_p2", "release_p4", "release_p5"}) {
    const std::string data = read_file(release_file(tree, kArcheryVideo));
    const PickleDocument doc = parse_pickle(data, tree);
    const auto& features = doc.sequence(doc.get(doc.at(doc.root()), "features"), "features");
    std::string all;
    for (PyIndex i : features) all += std::string(doc.at(i).text);
    payloads.push_back(all);
  }
  EXPECT_EQ(payloads[0], payloads[1]);
  EXPECT_EQ(payloads[0], payloads[2]);
}

TEST(NpyReader, ReadsPickledDictsOfEveryProtocol) {
  for (const std::string tree : {"release_p2", "release_p4", "release_p5"}) {
    SCOPED_TRACE(tree);
    const std::string data = read_file(release_file(tree, kClipText));
    const NpyObject npy = parse_npy_object(data, tree);
    const PyValue& dict = npy.document.expect(npy.item, PyKind::kDict, "item");
    EXPECT_EQ(dict.items.size(), 14u);  // 7 classes
    const PyIndex* cello = npy.document.find(dict, "Cello Playing");
    ASSERT_NE(cello, nullptr);
    EXPECT_EQ(npy.document.at(*cello).shape, std::vector<int64_t>{8});
  }
}

TEST(NpyReader, HeaderErrorsNameTheFile) {
  EXPECT_THROW(parse_npy_header("not numpy", "x.npy"), std::runtime_error);
  std::string file("\x93NUMPY\x01\x00", 8);
  const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  file.push_back(static_cast<char>(header.size()));
  file.push_back(0);
  file += header;
  const NpyHeader h = parse_npy_header(file, "x.npy");
  EXPECT_EQ(h.descr, "<f4");
  EXPECT_EQ(h.shape, (std::vector<int64_t>{2, 3}));
  try {
    parse_npy_object(file, "x.npy");
    FAIL() << "a float array is not a pickled object";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("x.npy"), std::string::npos);
  }
  EXPECT_THROW(parse_npy_header(file.substr(0, 20), "x.npy"), std::runtime_error);
}

TEST(PickleReader, EveryTruncationIsRefusedCleanly) {
  for (const std::string relative : {std::string(kArcheryVideo), std::string(kClipText)}) {
    std::string data = read_file(release_file("release_p5", relative));
    if (relative == kClipText) data = data.substr(parse_npy_header(data, "npy").data_offset);
    for (size_t n = 0; n < data.size(); ++n) {
      EXPECT_FALSE(parses_or_refuses(std::string_view(data).substr(0, n))) << "prefix of " << n << " bytes parsed";
    }
  }
}

TEST(PickleReader, MutatedFilesParseOrAreRefusedNeverCrash) {
  std::mt19937 rng(12345);
  for (const std::string tree : {"release_p2", "release_p4", "release_p5"}) {
    const std::string original = read_file(release_file(tree, kArcheryVideo));
    for (int trial = 0; trial < 3000; ++trial) {
      std::string data = original;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) data[rng() % data.size()] = static_cast<char>(rng() & 0xFF);
      parses_or_refuses(data);
    }
  }
}

TEST(PickleReader, RefusesGlobalsOutsideTheAllowList) {
  const std::string data = read_file(testing::fixture_dir() / "clipclap_release/bad/hostile_global.pkl");
  try {
    parse_pickle(data, "hostile.pkl");
    FAIL() << "os.system must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("system' is not allowed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hostile.pkl"), std::string::npos) << e.what();
  }
}

TEST(PickleReader, RefusesTorchRecordsOutsideATorchArchive) {
  const std::string data = std::string("\x80\x02ctorch._utils\n_rebuild_tensor_v2\n.", 36);
  EXPECT_THROW(parse_pickle(data, "x"), std::runtime_error);
}

TEST(PickleReader, RefusesUnknownProtocolsAndOpcodes) {
  EXPECT_THROW(parse_pickle(std::string("\x80\x06N.", 4), "x"), std::runtime_error);
  EXPECT_THROW(parse_pickle(std::string("\x80\x04\xff.", 4), "x"), std::runtime_error);
  EXPECT_THROW(parse_pickle("", "x"), std::runtime_error);
  EXPECT_THROW(parse_pickle(std::string("\x80\x04NN.", 5), "x"), std::runtime_error);  // two values left
}

// A small file that references one large buffer from many arrays may not claim more memory
// than a few times its own size.
TEST(PickleReader, BoundsMemoryOfSharedBuffers) {
  // Memoize one 16 KiB bytes object, then build many arrays on it.
  std::string p = std::string("\x80\x04", 2);
  p += "cnumpy.core.multiarray\n_reconstruct\n";
  p += "\x94";  // MEMOIZE -> memo 0: _reconstruct
  p += "cnumpy\nndarray\n\x94";  // memo 1
  p += "cnumpy\ndtype\n\x94";    // memo 2
  p += "B" + std::string("\x00\x40\x00\x00", 4) + std::string(16384, 'x') + "\x94";  // memo 3: 16 KiB bytes
  p += "0";  // pop it
  p += "]\x94(";  // list, MARK
  for (int i = 0; i < 2000; ++i) {
    p += "h\x00h\x01K\x00\x85" "C\x01" "b\x87R"s;  // _reconstruct(ndarray, (0,), b'b')
    p += "(K\x01M\x00\x10\x85h\x02X\x02\x00\x00\x00" "f4\x89\x88\x87R"s;  // (1, (4096,), dtype('f4', False, True),
    p += "\x89h\x03tb"s;  // False, <the 16 KiB bytes>) BUILD
  }
  p += "e.";
  try {
    parse_pickle(p, "shared.pkl");
    FAIL() << "2000 views of one 16 KiB buffer must exceed the memory budget";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("more data than the file size"), std::string::npos) << e.what();
  }
}

TEST(PickleWriter, WhatItWritesReadsBack) {
  PickleWriter w;
  const std::vector<float> v = {1.5f, -2.0f, 3.25f};
  w.begin_dict();
  w.str("features");
  w.begin_list();
  w.float32_array(v.data(), {3});
  w.end_list();
  w.str("fps");
  w.begin_list();
  w.integer(25);
  w.integer(-7);
  w.integer(int64_t{1} << 40);
  w.end_list();
  w.str(std::string(300, 'n'));
  w.bytes("raw");
  w.end_dict();
  const std::string data = w.finish();
  const PickleDocument doc = parse_pickle(data, "written");
  const PyValue& dict = doc.at(doc.root());
  const PyValue& a = doc.at(doc.sequence(doc.get(dict, "features"), "f")[0]);
  ASSERT_EQ(a.text.size(), 12u);
  std::vector<float> back(3);
  std::memcpy(back.data(), a.text.data(), 12);
  EXPECT_EQ(back, v);
  const auto& fps = doc.sequence(doc.get(dict, "fps"), "fps");
  EXPECT_EQ(doc.at(fps[1]).integer, -7);
  EXPECT_EQ(doc.at(fps[2]).integer, int64_t{1} << 40);
  EXPECT_EQ(doc.text(doc.get(dict, std::string(300, 'n')), "raw"), "raw");
}

TEST(PickleWriter, NpyObjectFileReadsBack) {
  PickleWriter w;
  const std::vector<float> v = {0.5f, 0.25f};
  w.begin_object_scalar();
  w.begin_dict();
  w.str("dog barking");
  w.float32_array(v.data(), {2});
  w.end_dict();
  w.end_object_scalar();
  const std::string file = npy_object_file(w.finish());
  EXPECT_EQ(parse_npy_header(file, "f").data_offset % 64, 0u);
  const NpyObject npy = parse_npy_object(file, "f");
  const PyValue& dict = npy.document.expect(npy.item, PyKind::kDict, "item");
  ASSERT_NE(npy.document.find(dict, "dog barking"), nullptr);
}

}  // namespace
}  // namespace avgzsl::io
