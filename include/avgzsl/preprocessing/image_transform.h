#pragma once
// CLIP's image preprocessing (OpenAI's clip.load(...)[1], i.e. torchvision 0.14 on a PIL image):
// bicubic resize of the shorter side, centre crop, /255, per-channel normalisation, reproduced
// bit for bit, including Pillow 9.4's fixed-point resampler.

#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace avgzsl::preprocessing {

// A non-owning 8-bit RGB image: `height` rows of `width` pixels, top to bottom, each pixel R, G, B
// (row-major H x W x 3, the layout of avgzsl::media::RgbImage and of a PIL "RGB" image).
struct ImageView {
  const std::uint8_t* pixels = nullptr;
  int width = 0;
  int height = 0;
};

// An owned 8-bit RGB image, same layout as ImageView.
struct ImageU8 {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;

  ImageView view() const { return {pixels.data(), width, height}; }
};

// Pillow 9.4's Image.resize(size, Image.BICUBIC) for an RGB image, bit-exact: cubic a = -0.5,
// antialiased when shrinking (the filter widens by the scale factor), 22-bit fixed-point weights,
// horizontal pass then vertical pass, each rounded and clamped to 8 bits; a pass whose dimension
// is unchanged is skipped. Throws std::invalid_argument on an empty image or size below 1.
ImageU8 resize_bicubic_pillow(ImageView image, int new_width, int new_height);

struct ImageSize {
  int width = 0;
  int height = 0;
};

// torchvision's Resize(shortest_edge) geometry: the shorter side becomes `shortest_edge`, the
// longer int(shortest_edge * long / short) (truncated, as Python's int()).
ImageSize resize_shorter_side_size(int width, int height, int shortest_edge);

// torchvision's CenterCrop offset along one axis when `size` >= `crop`:
// int(round((size - crop) / 2.0)), Python's round halving to even (75 / 2 -> 38, 73 / 2 -> 36).
int center_crop_offset(int size, int crop);

struct ClipImageConfig {
  int shortest_edge = 224;  // Resize target of the shorter side
  int crop_height = 224;
  int crop_width = 224;
  std::array<float, 3> mean{0.48145466F, 0.4578275F, 0.40821073F};
  std::array<float, 3> stddev{0.26862954F, 0.26130258F, 0.27577711F};
};

// The settings of a Hugging Face `preprocessor_config.json` (CLIPImageProcessor or the older
// CLIPFeatureExtractor): `size` (an int or {"shortest_edge": n}), `crop_size` (an int or
// {"height", "width"}), `image_mean`, `image_std`; a key that is absent takes Hugging Face's
// default, which is OpenAI's setting. Throws std::runtime_error "<path>: <problem>" for a missing
// or malformed file and for settings this module does not implement: `resample` other than 3
// (bicubic), a fixed {"height", "width"} resize, a disabled step (do_resize, do_center_crop,
// do_rescale, do_normalize false) or a `rescale_factor` other than 1/255.
ClipImageConfig load_clip_image_config(const std::filesystem::path& preprocessor_config_json);

// OpenAI's CLIP preprocessing of an RGB image: resize_bicubic_pillow to
// resize_shorter_side_size (skipped when the size is unchanged), centre crop as torchvision (a crop
// larger than the image pads with zeros), then (level / 255 - mean) / stddev in float32, as
// ToTensor and Normalize compute it. Returns CHW floats [3, crop_height, crop_width].
// The offsets are torchvision's; Hugging Face's CLIPImageProcessor rounds an odd excess down
// instead ((size - crop) // 2), so for such sizes it crops one pixel further up / left.
// Throws std::invalid_argument on an empty image or a non-positive size in `config`.
std::vector<float> clip_preprocess(ImageView image, const ClipImageConfig& config = {});

}  // namespace avgzsl::preprocessing
