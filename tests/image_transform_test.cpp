// CLIP image preprocessing: parity with OpenAI's transform (Pillow 9.4 bicubic + torchvision) on
// the golden images, and self-contained checks of the resampler, the geometry and the config.
#include "avgzsl/preprocessing/image_transform.h"

#include <gtest/gtest.h>

#include "golden_data.h"
#include "temp_dir.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

// A named namespace around everything: the tests of this binary may be compiled as one unity
// source, where the anonymous namespaces of the files would merge.
namespace image_transform_test {

namespace fs = std::filesystem;
using namespace avgzsl::preprocessing;

namespace {

using avgzsl::testing::golden_clip_dir;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Binary PPM (P6, maxval 255): "P6", width, height, maxval as ASCII numbers separated by
// whitespace (and '#' comments), one whitespace byte, then the RGB bytes row by row.
ImageU8 read_ppm(const fs::path& path) {
  const std::string data = read_file(path);
  std::size_t pos = 0;
  auto next_number = [&]() {
    for (;;) {
      while (pos < data.size() && std::isspace(static_cast<unsigned char>(data[pos]))) ++pos;
      if (pos < data.size() && data[pos] == '#') {
        while (pos < data.size() && data[pos] != '\n') ++pos;
        continue;
      }
      break;
    }
    const std::size_t start = pos;
    while (pos < data.size() && std::isdigit(static_cast<unsigned char>(data[pos]))) ++pos;
    if (pos == start) throw std::runtime_error(path.string() + ": malformed PPM header");
    return std::stoi(data.substr(start, pos - start));
  };
  if (data.compare(0, 2, "P6") != 0) throw std::runtime_error(path.string() + ": not a P6 PPM");
  pos = 2;
  ImageU8 image;
  image.width = next_number();
  image.height = next_number();
  if (next_number() != 255) throw std::runtime_error(path.string() + ": maxval is not 255");
  ++pos;  // the single whitespace byte before the pixels
  const std::size_t bytes = static_cast<std::size_t>(image.width) * image.height * 3;
  if (data.size() - pos != bytes) throw std::runtime_error(path.string() + ": wrong data size");
  image.pixels.assign(data.begin() + static_cast<std::ptrdiff_t>(pos), data.end());
  return image;
}

struct FloatTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

// safetensors: u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}},
// then the data; offsets are relative to the end of the header. F32 tensors only.
std::map<std::string, FloatTensor> read_safetensors(const fs::path& path) {
  const std::string data = read_file(path);
  if (data.size() < 8) throw std::runtime_error(path.string() + ": too short");
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = (header_size << 8) | static_cast<unsigned char>(data[i]);
  if (header_size > data.size() - 8) throw std::runtime_error(path.string() + ": bad header size");
  const auto header = nlohmann::json::parse(data.substr(8, header_size));
  const std::size_t base = 8 + header_size;
  std::map<std::string, FloatTensor> tensors;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    if (info.at("dtype") != "F32") throw std::runtime_error(name + ": not F32");
    const auto offsets = info.at("data_offsets").get<std::vector<std::size_t>>();
    if (offsets.size() != 2 || offsets[1] < offsets[0] || base + offsets[1] > data.size() ||
        (offsets[1] - offsets[0]) % 4 != 0) {
      throw std::runtime_error(name + ": bad data_offsets");
    }
    FloatTensor t;
    t.shape = info.at("shape").get<std::vector<std::int64_t>>();
    t.values.resize((offsets[1] - offsets[0]) / 4);
    std::memcpy(t.values.data(), data.data() + base + offsets[0], offsets[1] - offsets[0]);
    tensors.emplace(name, std::move(t));
  }
  return tensors;
}

ImageU8 make_image(int width, int height, const std::vector<std::uint8_t>& grey_levels) {
  ImageU8 image{width, height, {}};
  for (std::uint8_t level : grey_levels) image.pixels.insert(image.pixels.end(), 3, level);
  return image;
}

std::vector<std::uint8_t> channel(const ImageU8& image, int c) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = static_cast<std::size_t>(c); i < image.pixels.size(); i += 3) {
    out.push_back(image.pixels[i]);
  }
  return out;
}

// A JSON file in its own temporary directory.
class TempFile {
 public:
  explicit TempFile(const std::string& content) { std::ofstream(path(), std::ios::binary) << content; }
  fs::path path() const { return dir_ / "preprocessor_config.json"; }

 private:
  avgzsl::testing::TempDir dir_;
};

}  // namespace

// ---- golden parity ---------------------------------------------------------------------------

TEST(ClipPreprocessGolden, MatchesOpenAiTransform) {
  AVGZSL_SKIP_WITHOUT(golden_clip_dir());
  const fs::path dir = golden_clip_dir() / "preprocess_cases";
  const auto expected = read_safetensors(dir / "expected.safetensors");
  const ClipImageConfig config;
  for (const char* name :
       {"gradient_320x240.ppm", "checkerboard_97x203.ppm", "noise_224x224.ppm"}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(expected.count(name), 1U);
    const FloatTensor& want = expected.at(name);
    ASSERT_EQ(want.shape, (std::vector<std::int64_t>{3, 224, 224}));
    const ImageU8 image = read_ppm(dir / name);
    const std::vector<float> got = clip_preprocess(image.view(), config);
    ASSERT_EQ(got.size(), want.values.size());
    double max_diff = 0.0;
    std::size_t level_mismatches = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      max_diff = std::max(max_diff, std::abs(static_cast<double>(got[i]) - want.values[i]));
      // The grey level behind each value, recovered as the README describes.
      const std::size_t c = i / (224 * 224);
      auto level = [&](float x) {
        return std::lround((x * config.stddev[c] + config.mean[c]) * 255.0);
      };
      if (level(got[i]) != level(want.values[i])) ++level_mismatches;
    }
    RecordProperty(std::string("max_abs_diff_") + name, std::to_string(max_diff));
    std::cout << "[          ] " << name << ": max |diff| = " << max_diff
              << ", pixels with another level: " << level_mismatches << "\n";
    EXPECT_LE(max_diff, 1e-5);
    EXPECT_EQ(level_mismatches, 0U);
  }
}

TEST(ClipPreprocessGolden, HuggingFaceConfigIsOpenAisSetting) {
  AVGZSL_SKIP_WITHOUT(golden_clip_dir());
  const ClipImageConfig config = load_clip_image_config(
      golden_clip_dir() / "hf_clip_vit_base_patch32" / "preprocessor_config.json");
  const ClipImageConfig openai;
  EXPECT_EQ(config.shortest_edge, 224);
  EXPECT_EQ(config.crop_height, 224);
  EXPECT_EQ(config.crop_width, 224);
  EXPECT_EQ(config.mean, openai.mean);
  EXPECT_EQ(config.stddev, openai.stddev);
}

// ---- Pillow resampler ------------------------------------------------------------------------

TEST(PillowBicubic, SameSizeIsACopy) {
  ImageU8 image{5, 3, {}};
  for (int i = 0; i < 5 * 3 * 3; ++i) image.pixels.push_back(static_cast<std::uint8_t>(i * 17));
  const ImageU8 out = resize_bicubic_pillow(image.view(), 5, 3);
  EXPECT_EQ(out.width, 5);
  EXPECT_EQ(out.height, 3);
  EXPECT_EQ(out.pixels, image.pixels);
}

TEST(PillowBicubic, ConstantImageStaysConstant) {
  ImageU8 image{37, 23, {}};
  for (int i = 0; i < 37 * 23; ++i) image.pixels.insert(image.pixels.end(), {200, 3, 255});
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{
           {224, 139}, {11, 7}, {37, 100}, {5, 23}, {1, 1}, {300, 2}}) {
    const ImageU8 out = resize_bicubic_pillow(image.view(), w, h);
    ASSERT_EQ(out.pixels.size(), static_cast<std::size_t>(w) * h * 3);
    for (std::size_t i = 0; i < out.pixels.size(); i += 3) {
      ASSERT_EQ(out.pixels[i], 200) << w << "x" << h;
      ASSERT_EQ(out.pixels[i + 1], 3) << w << "x" << h;
      ASSERT_EQ(out.pixels[i + 2], 255) << w << "x" << h;
    }
  }
}

// Values worked out by hand from Pillow's algorithm. Downscale 4 -> 2: scale 2, support 4, output
// pixel 0 has centre 1 and weights bicubic((x - 0.5) / 2) = .8671875, .8671875, .2265625,
// -.0703125 over inputs 0..3, normalised by their sum 1.890625; for the step 0 0 255 255 that is
// 255 * (.2265625 - .0703125) / 1.890625 = 21.07 -> 21, and by symmetry 233.93 -> 234.
TEST(PillowBicubic, DownscaledStepHorizontalAndVertical) {
  const ImageU8 row = make_image(4, 1, {0, 0, 255, 255});
  const ImageU8 h = resize_bicubic_pillow(row.view(), 2, 1);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(channel(h, c), (std::vector<std::uint8_t>{21, 234}));
  const ImageU8 column = make_image(1, 4, {0, 0, 255, 255});
  const ImageU8 v = resize_bicubic_pillow(column.view(), 1, 2);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(channel(v, c), (std::vector<std::uint8_t>{21, 234}));
}

// Upscale 2 -> 4 (support 2, no widening): the outer pixels overshoot (-22.5, 277.5) and are
// clamped; the inner ones are 255 * .2265625 / 1.09375 = 52.8 -> 53 and 202.
TEST(PillowBicubic, UpscaledStepOvershootsAndClamps) {
  const ImageU8 row = make_image(2, 1, {0, 255});
  const ImageU8 out = resize_bicubic_pillow(row.view(), 4, 1);
  EXPECT_EQ(channel(out, 0), (std::vector<std::uint8_t>{0, 53, 202, 255}));
  // Both passes: the same step along each axis of a 2x2 image.
  const ImageU8 square = make_image(2, 2, {0, 255, 0, 255});
  const ImageU8 both = resize_bicubic_pillow(square.view(), 4, 4);
  for (int y = 0; y < 4; ++y) {
    const std::vector<std::uint8_t> levels = channel(both, 1);
    EXPECT_EQ(std::vector<std::uint8_t>(levels.begin() + 4 * y, levels.begin() + 4 * y + 4),
              (std::vector<std::uint8_t>{0, 53, 202, 255}));
  }
}

TEST(PillowBicubic, RejectsEmptyImages) {
  const ImageU8 image = make_image(2, 1, {0, 255});
  EXPECT_THROW(resize_bicubic_pillow(image.view(), 0, 1), std::invalid_argument);
  EXPECT_THROW(resize_bicubic_pillow(ImageView{}, 2, 2), std::invalid_argument);
}

// ---- geometry, normalisation, config -------------------------------------------------------

TEST(ClipPreprocess, ResizeAndCropGeometryOfTheReadmeTable) {
  const ImageSize a = resize_shorter_side_size(320, 240, 224);
  EXPECT_EQ(a.width, 298);
  EXPECT_EQ(a.height, 224);
  const ImageSize b = resize_shorter_side_size(97, 203, 224);
  EXPECT_EQ(b.width, 224);
  EXPECT_EQ(b.height, 468);
  const ImageSize c = resize_shorter_side_size(224, 224, 224);
  EXPECT_EQ(c.width, 224);
  EXPECT_EQ(c.height, 224);
  EXPECT_EQ(center_crop_offset(298, 224), 37);
  EXPECT_EQ(center_crop_offset(468, 224), 122);
  EXPECT_EQ(center_crop_offset(224, 224), 0);
  // Python's round() halves to even: 37.5 -> 38, 36.5 -> 36, 0.5 -> 0.
  EXPECT_EQ(center_crop_offset(299, 224), 38);
  EXPECT_EQ(center_crop_offset(297, 224), 36);
  EXPECT_EQ(center_crop_offset(225, 224), 0);
}

TEST(ClipPreprocess, NoResizeMeansCropAndNormaliseOnly) {
  ImageU8 image{6, 4, {}};
  for (int i = 0; i < 6 * 4 * 3; ++i) image.pixels.push_back(static_cast<std::uint8_t>(i * 3));
  ClipImageConfig config;
  config.shortest_edge = 4;
  config.crop_width = config.crop_height = 4;
  const std::vector<float> out = clip_preprocess(image.view(), config);
  ASSERT_EQ(out.size(), 3U * 4 * 4);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 4; ++x) {
        const int level = image.pixels[(static_cast<std::size_t>(y) * 6 + x + 1) * 3 + c];
        const float expected =
            (static_cast<float>(level) / 255.0F - config.mean[c]) / config.stddev[c];
        EXPECT_EQ(out[(static_cast<std::size_t>(c) * 4 + y) * 4 + x], expected);
      }
    }
  }
}

TEST(ClipPreprocess, CropLargerThanImagePadsWithBlack) {
  const ImageU8 image = make_image(2, 2, {255, 255, 255, 255});
  ClipImageConfig config;
  config.shortest_edge = 2;
  config.crop_width = 5;  // torchvision pads 1 left, 2 right
  config.crop_height = 2;
  const std::vector<float> out = clip_preprocess(image.view(), config);
  ASSERT_EQ(out.size(), 3U * 2 * 5);
  const float black = (0.0F - config.mean[0]) / config.stddev[0];
  const float white = (1.0F - config.mean[0]) / config.stddev[0];
  for (int y = 0; y < 2; ++y) {
    EXPECT_EQ(std::vector<float>(out.begin() + 5 * y, out.begin() + 5 * y + 5),
              (std::vector<float>{black, white, white, black, black}));
  }
}

TEST(ClipPreprocess, ConfigFormsAndRefusals) {
  {
    TempFile f(R"({"size": 256, "crop_size": 240, "resample": 3, "do_resize": true,
                   "image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.5, 1]})");
    const ClipImageConfig c = load_clip_image_config(f.path());
    EXPECT_EQ(c.shortest_edge, 256);
    EXPECT_EQ(c.crop_width, 240);
    EXPECT_EQ(c.crop_height, 240);
    EXPECT_EQ(c.mean, (std::array<float, 3>{0.5F, 0.5F, 0.5F}));
    EXPECT_EQ(c.stddev, (std::array<float, 3>{0.25F, 0.5F, 1.0F}));
  }
  {
    TempFile f(R"({"size": {"shortest_edge": 336}, "crop_size": {"height": 320, "width": 336}})");
    const ClipImageConfig c = load_clip_image_config(f.path());
    EXPECT_EQ(c.shortest_edge, 336);
    EXPECT_EQ(c.crop_height, 320);
    EXPECT_EQ(c.crop_width, 336);
    EXPECT_EQ(c.mean, ClipImageConfig{}.mean);  // absent: Hugging Face's default
  }
  auto error = [](const std::string& json) {
    TempFile f(json);
    try {
      load_clip_image_config(f.path());
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(f.path().string() + ": ", 0), 0U) << message;
      return message;
    }
    return std::string("no error");
  };
  EXPECT_NE(error(R"({"resample": 2})").find("only 3 (bicubic"), std::string::npos);
  EXPECT_NE(error(R"({"size": {"height": 224, "width": 224}})").find("shortest edge"),
            std::string::npos);
  EXPECT_NE(error(R"({"do_center_crop": false})").find("do_center_crop"), std::string::npos);
  EXPECT_NE(error(R"({"rescale_factor": 1.0})").find("rescale_factor"), std::string::npos);
  EXPECT_NE(error(R"({"image_std": [1, 0, 1]})").find("image_std"), std::string::npos);
  EXPECT_NE(error(R"({"image_mean": [1, 2]})").find("3 numbers"), std::string::npos);
  EXPECT_NE(error(R"({"size": -3})").find("positive integer"), std::string::npos);
  EXPECT_NE(error("{not json").find("invalid JSON"), std::string::npos);
  EXPECT_THROW(load_clip_image_config("/nonexistent/preprocessor_config.json"), std::runtime_error);
}


}  // namespace image_transform_test
