#include "avgzsl/io/csv_table.h"
#include "avgzsl/io/safetensors.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <torch/torch.h>

#include <fstream>

#include "avgzsl/io/atomic_file.h"
#include "error_text.h"
#include "test_support.h"

namespace avgzsl::io {
namespace {

void write_raw(const std::filesystem::path& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
}

std::string expect_error(const std::filesystem::path& path) {
  try {
    SafetensorsFile f(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << path;
  return "";
}

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  testing::TempDir dir;
  const NamedTensors tensors = {{"f32", torch::randn({3, 4})},
                                {"f16", torch::randn({2}).to(torch::kFloat16)},
                                {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
                                {"i64", torch::tensor({1, -2, 3}, torch::kInt64)},
                                {"scalar", torch::tensor(2.5f)},
                                {"empty", torch::zeros({0, 3})}};
  save_safetensors(dir / "t.safetensors", tensors, {{"who", "test"}});
  SafetensorsFile f(dir / "t.safetensors");
  EXPECT_EQ(f.metadata().at("who"), "test");
  for (const auto& [name, t] : tensors) {
    const torch::Tensor got = f.tensor(name);
    EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(got, t)) << name;
  }
  EXPECT_EQ(f.names().front(), "f32");  // data order is write order
  EXPECT_TRUE(torch::allclose(f.tensor("f16", torch::kFloat32), tensors[1].second.to(torch::kFloat32)));
  EXPECT_THROW(f.tensor("i64", torch::kFloat32), std::runtime_error);  // no silent kind change
  EXPECT_THROW(f.tensor("missing"), std::runtime_error);
}

TEST(Safetensors, ReadsAFileLaidOutByTheSpecification) {
  // Header and little-endian float32 bytes written by hand, as the Python library lays them out.
  testing::TempDir dir;
  const float values[2] = {1.5f, -2.0f};
  write_raw(dir / "h.safetensors", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
            std::string(reinterpret_cast<const char*>(values), 8));
  SafetensorsFile f(dir / "h.safetensors");
  EXPECT_FLOAT_EQ(f.tensor("a")[1].item<float>(), -2.0f);
}

TEST(Safetensors, RejectsCorruptFilesWithTheFileName) {
  testing::TempDir dir;
  const auto p = dir / "bad.safetensors";
  write_file_atomically(p, std::string("abc"));
  EXPECT_NE(expect_error(p).find("bad.safetensors"), std::string::npos);
  write_raw(p, "{not json", "");
  EXPECT_NE(expect_error(p).find("JSON"), std::string::npos);
  write_raw(p, R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0'));
  EXPECT_NE(expect_error(p).find("truncated"), std::string::npos);
  write_raw(p, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
  EXPECT_NE(expect_error(p).find("'a'"), std::string::npos);
  write_raw(p, R"({"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  EXPECT_NE(expect_error(p).find("dtype"), std::string::npos);
  write_raw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            std::string(12, '\0'));
  EXPECT_NE(expect_error(p).find("overlap"), std::string::npos);
  write_raw(p, R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", std::string(8, '\0'));
  expect_error(p);
  // A header length that points past the end of the file.
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    const char len[8] = {'\xff', '\xff', '\xff', '\x7f', 0, 0, 0, 0};
    out.write(len, 8);
    out << "{}";
  }
  EXPECT_NE(expect_error(p).find("header length"), std::string::npos);
  EXPECT_NE(expect_error(dir / "missing.safetensors").find("not found"), std::string::npos);
}

TEST(AtomicFile, FailedWriteLeavesTheTargetUntouched) {
  testing::TempDir dir;
  write_file_atomically(dir / "f.txt", std::string("old"));
  EXPECT_THROW(write_file_atomically(dir / "f.txt", [](std::ostream& out) {
                 out << "half";
                 throw std::runtime_error("interrupted");
               }),
               std::runtime_error);
  EXPECT_EQ(read_file(dir / "f.txt"), "old");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);  // no temp file left
}

TEST(StagedDirectory, AppearsOnlyOnCommit) {
  testing::TempDir dir;
  {
    StagedDirectory staged(dir / "run");
    write_file_atomically(staged.path() / "a.txt", std::string("x"));
    EXPECT_FALSE(std::filesystem::exists(dir / "run"));
  }  // abandoned: nothing remains
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));
  EXPECT_FALSE(std::filesystem::exists(dir / "run.partial"));
  StagedDirectory staged(dir / "run");
  write_file_atomically(staged.path() / "a.txt", std::string("x"));
  staged.commit();
  EXPECT_EQ(read_file(dir / "run" / "a.txt"), "x");
  EXPECT_THROW(StagedDirectory(dir / "run"), std::runtime_error);  // exists
}

TEST(CsvTable, ReadsAByteOrderMarkAsSpreadsheetProgramsWriteIt) {
  testing::TempDir dir;
  // Excel and LibreOffice's "CSV UTF-8" start with EF BB BF.
  testing::write_text_file(dir.path() / "videos.csv", "\xEF\xBB\xBFpath,label\r\na.mp4,rain\r\n");
  const CsvTable table = read_csv(dir.path() / "videos.csv");
  EXPECT_EQ(table.column("path", "videos.csv"), 0u);
  ASSERT_EQ(table.rows.size(), 1u);
  EXPECT_EQ(table.rows[0][1], "rain");
}

TEST(CsvTable, ReadsWhatPythonsCsvWriterWritesForSpreadsheets) {
  // The real writer: Python's csv module with encoding "utf-8-sig", as scripts write CSVs meant
  // for Excel (pandas' to_csv(encoding="utf-8-sig") writes the same bytes).
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  testing::TempDir dir;
  const auto path = dir.path() / "videos.csv";
  ASSERT_TRUE(testing::run_shell("/usr/bin/python3 -c 'import csv,sys; f=open(sys.argv[1],\"w\",newline=\"\",encoding=\"utf-8-sig\"); "
                                 "w=csv.writer(f); w.writerow([\"path\",\"label\"]); w.writerow([\"a b.mp4\",\"Playing, guitar\"]); "
                                 "w.writerow([\"caf\u00e9.mp4\",\"rain\"]); f.close()' " + path.string()));
  ASSERT_EQ(read_file(path).rfind("\xEF\xBB\xBFpath,label\r\n", 0), 0u) << "the writer puts the mark first";
  const CsvTable table = read_csv(path);
  EXPECT_EQ(table.column("path", "videos.csv"), 0u);
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.rows[0][1], "Playing, guitar");
  EXPECT_EQ(table.rows[1][0], "caf\xC3\xA9.mp4");
}

TEST(CsvTable, FieldsWithSpacesAroundReadBackAsWritten) {
  // Found by fuzz/csv_fuzzer: libcsv trims unquoted fields, so " padded " came back as "padded".
  testing::TempDir dir;
  const std::vector<std::string> fields = {" padded ", "\ttab", "end ", "plain", "a,b", "say \"hi\""};
  std::string text = "field\n";
  for (const std::string& f : fields) text += csv_field(f) + "\n";
  testing::write_text_file(dir.path() / "fields.csv", text);
  const CsvTable table = read_csv(dir.path() / "fields.csv");
  ASSERT_EQ(table.rows.size(), fields.size());
  for (size_t i = 0; i < fields.size(); ++i) EXPECT_EQ(table.rows[i][0], fields[i]);
}

TEST(Safetensors, ASizeBeyondInt64IsRefusedEvenBesideAZeroSize) {
  // Found by fuzz/safetensors_fuzzer: the product is 0, so only the size itself can be checked.
  testing::TempDir dir;
  const std::string header = R"({"t":{"dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0]}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  testing::write_text_file(dir.path() / "huge.safetensors", bytes + header);
  EXPECT_NE(testing::typed_error_of([&] { SafetensorsFile{dir.path() / "huge.safetensors"}; }).find("runtime_error: "),
            std::string::npos);
}

TEST(ReadFile, RefusesAFifoInsteadOfBlocking) {
  testing::TempDir dir;
  const auto fifo = dir.path() / "stage_1_train.txt";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(read_file(fifo), std::runtime_error);
  EXPECT_THROW(read_csv(fifo), std::runtime_error);
  EXPECT_THROW(SafetensorsFile{fifo}, std::runtime_error);
}

}  // namespace
}  // namespace avgzsl::io
