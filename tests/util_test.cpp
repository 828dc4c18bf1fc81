// The bottom layer: input-file checks (no read may block on a FIFO or run on for ever on a device)
// and the UTF-8 check behind every "not text" error.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "avgzsl/util/input_file.h"
#include "avgzsl/util/text.h"
#include "error_text.h"
#include "temp_dir.h"

namespace avgzsl {
namespace util_test {

using testing::error_message;

TEST(InputFiles, OnlyRegularFilesAreOpenedAndEveryRefusalNamesThePath) {
  testing::TempDir dir;
  const auto fifo = dir.path() / "split.txt";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opening a FIFO for reading would block until a writer appears: the check comes first.
  EXPECT_EQ(error_message([&] { util::open_input_file(fifo); }),
            fifo.string() + ": is a FIFO, not a regular file; avgzsl reads only regular files");
  EXPECT_EQ(error_message([&] { util::require_regular_file("/dev/zero"); }),
            "/dev/zero: is a character device, not a regular file; avgzsl reads only regular files");
  EXPECT_EQ(error_message([&] { util::require_regular_file(dir.path()); }),
            dir.path().string() + ": is a directory, expected a file");
  EXPECT_EQ(error_message([&] { util::require_regular_file(dir.path() / "missing"); }),
            (dir.path() / "missing").string() + ": file not found");
  EXPECT_EQ(error_message([&] { util::require_regular_file(dir.path() / "missing" / "below"); }),
            (dir.path() / "missing" / "below").string() + ": file not found");
  const auto link = dir.path() / "link.txt";
  testing::write_text_file(dir.path() / "real.txt", "x\n");
  std::filesystem::create_symlink(dir.path() / "real.txt", link);
  EXPECT_NO_THROW(util::open_input_file(link));   // links are followed
}

TEST(Utf8, MalformedSequencesAreFoundAtTheirFirstByte) {
  EXPECT_EQ(util::first_invalid_utf8("plain ascii"), std::string::npos);
  EXPECT_EQ(util::first_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8E\xB8"), std::string::npos);  // é € 🎸
  EXPECT_EQ(util::first_invalid_utf8("ab\xFF"), 2u);
  EXPECT_EQ(util::first_invalid_utf8("a\xC3"), 1u);                  // cut short
  EXPECT_EQ(util::first_invalid_utf8("a\xC0\xAF"), 1u);              // overlong '/'
  EXPECT_EQ(util::first_invalid_utf8("\xED\xA0\x80"), 0u);           // a surrogate
  EXPECT_EQ(util::first_invalid_utf8("\xF4\x90\x80\x80"), 0u);       // past U+10FFFF
  EXPECT_EQ(util::first_invalid_utf8("\xE2\x28\xA1"), 0u);           // bad continuation
}

TEST(Utf8, BinaryTextProblemNamesTheLine) {
  EXPECT_EQ(util::binary_text_problem("one\ntwo\n"), "");
  EXPECT_EQ(util::binary_text_problem("one\ntwo\n\x89PNG"), "line 3: bytes that are not UTF-8 (a binary file? expected UTF-8 text)");
  EXPECT_EQ(util::binary_text_problem(std::string("one\0", 4)), "line 1: a NUL byte (a binary file? expected UTF-8 text)");
}

}  // namespace util_test
}  // namespace avgzsl
