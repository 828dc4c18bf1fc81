#include "avgzsl/preprocessing/image_transform.h"
#include "avgzsl/util/input_file.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace avgzsl::preprocessing {

// A named namespace, not an anonymous one: the project compiles sources in unity batches.
namespace pillow_resample {

// Hand-written port of Pillow 9.4's src/libImaging/Resample.c (ImagingResampleInner and the
// 8-bit passes): no library on Debian reproduces Pillow's fixed-point rounding, and CLIP's
// preprocessing is defined by it (LibTorch's antialiased bicubic is off by up to 2 levels).

constexpr int kChannels = 3;
// Fixed-point weights: 8 bits of pixel, 2 of headroom for the weights' overshoot, 22 of fraction.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr double kBicubicSupport = 2.0;

// Keys' cubic convolution kernel with a = -0.5, as Pillow's bicubic_filter (a Catmull-Rom spline).
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// The weights of one pass: output pixel i reads `count[i]` inputs from `first[i]`, with weights
// `weights[i * ksize ...]` in fixed point.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<std::int32_t> weights;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, in_size]. The operations
// and their order are Pillow's, so that the doubles, and hence the rounded weights, are the same.
Coefficients precompute_coefficients(int in_size, int out_size) {
  // Pillow keeps the box in floats; for the whole image it is exactly [0, in_size].
  const double in0 = 0.0;
  const double in1 = static_cast<double>(static_cast<float>(in_size));
  const double scale = (in1 - in0) / out_size;
  const double filterscale = std::max(scale, 1.0);  // widen the kernel only when shrinking
  const double support = kBicubicSupport * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<std::size_t>(out_size));
  c.count.resize(static_cast<std::size_t>(out_size));
  c.weights.assign(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(c.ksize), 0);
  std::vector<double> k(static_cast<std::size_t>(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // Pillow rounds with (int)(v + 0.5), which truncates toward zero; the clamp hides the
    // difference from floor for negative values.
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic_filter((x + xmin - center + 0.5) * ss);
      k[static_cast<std::size_t>(x)] = w;
      ww += w;
    }
    std::int32_t* out = &c.weights[static_cast<std::size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      double w = k[static_cast<std::size_t>(x)];
      if (ww != 0.0) w /= ww;
      // Rounded half away from zero, as Pillow's normalize_coeffs_8bpc.
      out[x] = static_cast<std::int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                               : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[static_cast<std::size_t>(xx)] = xmin;
    c.count[static_cast<std::size_t>(xx)] = xmax;
  }
  return c;
}

// Pillow's clip8: the accumulator (which started at one half, so this rounds) back to 8 bits.
std::uint8_t clip8(std::int32_t value) {
  const std::int32_t level = value >> kPrecisionBits;  // arithmetic shift: floor, as Pillow
  return static_cast<std::uint8_t>(std::clamp<std::int32_t>(level, 0, 255));
}

// Horizontal pass over input rows [row0, row0 + out_height).
void resample_horizontal(const std::uint8_t* in, int in_width, int row0, int out_width,
                         int out_height, const Coefficients& c, std::uint8_t* out) {
  for (int y = 0; y < out_height; ++y) {
    const std::uint8_t* src = in + static_cast<std::size_t>(row0 + y) * in_width * kChannels;
    std::uint8_t* dst = out + static_cast<std::size_t>(y) * out_width * kChannels;
    for (int xx = 0; xx < out_width; ++xx) {
      const std::int32_t* k = &c.weights[static_cast<std::size_t>(xx) * c.ksize];
      const int xmin = c.first[static_cast<std::size_t>(xx)];
      const int xmax = c.count[static_cast<std::size_t>(xx)];
      std::int32_t acc[kChannels];
      std::fill(acc, acc + kChannels, std::int32_t{1} << (kPrecisionBits - 1));
      for (int x = 0; x < xmax; ++x) {
        const std::uint8_t* p = src + static_cast<std::size_t>(x + xmin) * kChannels;
        for (int ch = 0; ch < kChannels; ++ch) acc[ch] += p[ch] * k[x];
      }
      for (int ch = 0; ch < kChannels; ++ch) dst[xx * kChannels + ch] = clip8(acc[ch]);
    }
  }
}

// Vertical pass; `c.first` is relative to the first row of `in`.
void resample_vertical(const std::uint8_t* in, int width, int out_height, const Coefficients& c,
                       int first_shift, std::uint8_t* out) {
  const std::size_t row = static_cast<std::size_t>(width) * kChannels;
  for (int yy = 0; yy < out_height; ++yy) {
    const std::int32_t* k = &c.weights[static_cast<std::size_t>(yy) * c.ksize];
    const int ymin = c.first[static_cast<std::size_t>(yy)] - first_shift;
    const int ymax = c.count[static_cast<std::size_t>(yy)];
    std::uint8_t* dst = out + static_cast<std::size_t>(yy) * row;
    for (std::size_t i = 0; i < row; ++i) {
      std::int32_t acc = std::int32_t{1} << (kPrecisionBits - 1);
      for (int y = 0; y < ymax; ++y) acc += in[static_cast<std::size_t>(ymin + y) * row + i] * k[y];
      dst[i] = clip8(acc);
    }
  }
}

void check_image(ImageView image, const char* what) {
  if (image.pixels == nullptr || image.width < 1 || image.height < 1) {
    throw std::invalid_argument(std::string(what) + ": empty image (" +
                                std::to_string(image.width) + "x" + std::to_string(image.height) +
                                ")");
  }
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error(path.string() + ": " + problem);
}

}  // namespace pillow_resample

ImageU8 resize_bicubic_pillow(ImageView image, int new_width, int new_height) {
  namespace pr = pillow_resample;
  pr::check_image(image, "resize_bicubic_pillow");
  if (new_width < 1 || new_height < 1) {
    throw std::invalid_argument("resize_bicubic_pillow: target size " + std::to_string(new_width) +
                                "x" + std::to_string(new_height) + " is empty");
  }
  const std::size_t in_bytes = static_cast<std::size_t>(image.width) * image.height * pr::kChannels;
  ImageU8 result{new_width, new_height, {}};
  const bool need_horizontal = new_width != image.width;
  const bool need_vertical = new_height != image.height;
  if (!need_horizontal && !need_vertical) {
    result.pixels.assign(image.pixels, image.pixels + in_bytes);
    return result;
  }
  const pr::Coefficients horizontal = pr::precompute_coefficients(image.width, new_width);
  const pr::Coefficients vertical = pr::precompute_coefficients(image.height, new_height);
  // The horizontal pass only computes the rows the vertical pass reads (a speed-up: every row is
  // computed independently, so the output does not depend on it).
  const int first_row = vertical.first.front();
  const int last_row = vertical.first.back() + vertical.count.back();

  const std::uint8_t* source = image.pixels;
  int source_row_shift = 0;
  std::vector<std::uint8_t> temp;
  if (need_horizontal) {
    const int rows = need_vertical ? last_row - first_row : image.height;
    const int row0 = need_vertical ? first_row : 0;
    temp.resize(static_cast<std::size_t>(new_width) * rows * pr::kChannels);
    pr::resample_horizontal(image.pixels, image.width, row0, new_width, rows, horizontal,
                            temp.data());
    if (!need_vertical) {
      result.pixels = std::move(temp);
      return result;
    }
    source = temp.data();
    source_row_shift = first_row;
  }
  result.pixels.resize(static_cast<std::size_t>(new_width) * new_height * pr::kChannels);
  pr::resample_vertical(source, new_width, new_height, vertical, source_row_shift,
                        result.pixels.data());
  return result;
}

ImageSize resize_shorter_side_size(int width, int height, int shortest_edge) {
  if (width < 1 || height < 1 || shortest_edge < 1) {
    throw std::invalid_argument("resize_shorter_side_size: sizes must be positive");
  }
  const bool portrait = width <= height;
  const int short_side = portrait ? width : height;
  const int long_side = portrait ? height : width;
  // Python's int(s * long / short): a true division (correctly rounded double; both operands are
  // exact in a double), then truncation.
  const int new_long =
      static_cast<int>(static_cast<double>(std::int64_t{shortest_edge} * long_side) /
                       static_cast<double>(short_side));
  return portrait ? ImageSize{shortest_edge, new_long} : ImageSize{new_long, shortest_edge};
}

int center_crop_offset(int size, int crop) {
  if (crop > size) throw std::invalid_argument("center_crop_offset: crop larger than the image");
  const int excess = size - crop;
  int offset = excess / 2;
  // excess / 2.0 ends in .5 exactly when excess is odd; Python's round() then picks the even one.
  if (excess % 2 != 0 && offset % 2 != 0) ++offset;
  return offset;
}

ClipImageConfig load_clip_image_config(const std::filesystem::path& path) {
  namespace pr = pillow_resample;
  std::ifstream in = util::open_input_file(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    pr::fail(path, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) pr::fail(path, "expected a JSON object");

  auto positive_int = [&](const nlohmann::json& value, const std::string& key) {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
        value.get<std::int64_t>() > (1 << 20)) {
      pr::fail(path, "'" + key + "' must be a positive integer, got " + value.dump());
    }
    return value.get<int>();
  };
  ClipImageConfig config;
  for (const char* flag : {"do_resize", "do_center_crop", "do_rescale", "do_normalize"}) {
    if (j.contains(flag) && !(j[flag].is_boolean() && j[flag].get<bool>())) {
      pr::fail(path, std::string("'") + flag + "' = " + j[flag].dump() +
                         " is not supported (CLIP preprocessing always does this step)");
    }
  }
  if (j.contains("resample") && j["resample"] != 3) {
    pr::fail(path, "'resample' = " + j["resample"].dump() +
                       " is not supported: only 3 (bicubic, CLIP's) is implemented");
  }
  if (j.contains("rescale_factor")) {
    const auto& f = j["rescale_factor"];
    if (!f.is_number() || std::abs(f.get<double>() - 1.0 / 255.0) > 1e-12) {
      pr::fail(path, "'rescale_factor' = " + f.dump() + " is not supported: only 1/255");
    }
  }
  if (j.contains("size")) {
    const auto& size = j["size"];
    if (size.is_object() && size.contains("shortest_edge")) {
      config.shortest_edge = positive_int(size["shortest_edge"], "size.shortest_edge");
    } else if (size.is_object()) {
      pr::fail(path,
               "'size' = " + size.dump() +
                   " is not supported: only a shortest edge (an int or {\"shortest_edge\": n})");
    } else {
      config.shortest_edge = positive_int(size, "size");
    }
  }
  if (j.contains("crop_size")) {
    const auto& crop = j["crop_size"];
    if (crop.is_object()) {
      if (!crop.contains("height") || !crop.contains("width")) {
        pr::fail(path, "'crop_size' needs \"height\" and \"width\", got " + crop.dump());
      }
      config.crop_height = positive_int(crop["height"], "crop_size.height");
      config.crop_width = positive_int(crop["width"], "crop_size.width");
    } else {
      config.crop_height = config.crop_width = positive_int(crop, "crop_size");
    }
  }
  auto triple = [&](const char* key, std::array<float, 3>& out, bool positive) {
    if (!j.contains(key)) return;
    const auto& v = j[key];
    if (!v.is_array() || v.size() != 3 ||
        !std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number(); })) {
      pr::fail(path, std::string("'") + key + "' must be 3 numbers, got " + v.dump());
    }
    for (std::size_t c = 0; c < 3; ++c) {
      // torch.as_tensor(mean, dtype=float32): the JSON double rounded to float.
      out[c] = static_cast<float>(v[c].get<double>());
      if (positive && !(out[c] > 0.0F)) pr::fail(path, std::string("'") + key + "' must be > 0");
    }
  };
  triple("image_mean", config.mean, false);
  triple("image_std", config.stddev, true);
  return config;
}

std::vector<float> clip_preprocess(ImageView image, const ClipImageConfig& config) {
  namespace pr = pillow_resample;
  pr::check_image(image, "clip_preprocess");
  if (config.crop_width < 1 || config.crop_height < 1 || config.shortest_edge < 1) {
    throw std::invalid_argument("clip_preprocess: sizes in the config must be positive");
  }
  const ImageSize target =
      resize_shorter_side_size(image.width, image.height, config.shortest_edge);
  ImageU8 resized;
  ImageView view = image;
  if (target.width != image.width || target.height != image.height) {
    resized = resize_bicubic_pillow(image, target.width, target.height);
    view = resized.view();
  }
  // torchvision pads a too-small image with zeros, (crop - size) // 2 before, then crops at 0.
  auto origin = [](int size, int crop) {
    return crop > size ? -((crop - size) / 2) : center_crop_offset(size, crop);
  };
  const int left = origin(view.width, config.crop_width);
  const int top = origin(view.height, config.crop_height);

  const std::size_t plane = static_cast<std::size_t>(config.crop_width) * config.crop_height;
  std::vector<float> out(plane * pr::kChannels);
  for (int c = 0; c < pr::kChannels; ++c) {
    // As ToTensor then Normalize, all in float32: level / 255, minus mean, divided by std.
    std::array<float, 256> lut;
    for (int level = 0; level < 256; ++level) {
      const float unit = static_cast<float>(level) / 255.0F;
      lut[static_cast<std::size_t>(level)] = (unit - config.mean[static_cast<std::size_t>(c)]) /
                                             config.stddev[static_cast<std::size_t>(c)];
    }
    float* dst = out.data() + static_cast<std::size_t>(c) * plane;
    for (int y = 0; y < config.crop_height; ++y) {
      const int sy = top + y;
      for (int x = 0; x < config.crop_width; ++x) {
        const int sx = left + x;
        const bool inside = sx >= 0 && sx < view.width && sy >= 0 && sy < view.height;
        const std::uint8_t level =
            inside ? view.pixels[(static_cast<std::size_t>(sy) * view.width + sx) * pr::kChannels +
                                 static_cast<std::size_t>(c)]
                   : 0;
        *dst++ = lut[level];
      }
    }
  }
  return out;
}

}  // namespace avgzsl::preprocessing
