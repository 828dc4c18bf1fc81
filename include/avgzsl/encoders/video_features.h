// One video -> what the encoders need (decoded, preprocessed frames and the mono audio track),
// then a batch of such videos -> their visual and audio features. `avgzsl extract` and
// `avgzsl predict` share this, so a video gets the same features from both.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace avgzsl::encoders {

class ClipEncoder;
class ClapEncoder;

// How decoded pixels reach CLIP.
enum class FramePixels {
  // RGB, as CLIP expects.
  kStandard,
  // What the reference's extraction script feeds CLIP: OpenCV's BGR frames, put through
  // torchvision's ToPILImage as float 0..255, whose `mul(255).byte()` wraps every level p to
  // (256 - p) mod 256. Reproduces the published features; not what CLIP was trained on.
  kReference,
};
FramePixels parse_frame_pixels(const std::string& text);
std::string to_string(FramePixels pixels);

// What a video without an audio track gets when audio features are extracted.
enum class MissingAudio {
  kSkip,  // left out, reported with the reason
  kZero,  // kept, with an all-zero audio feature (and has_audio = false in the report)
};
MissingAudio parse_missing_audio(const std::string& text);
std::string to_string(MissingAudio policy);

// The most evenly spaced frames one video may give: each is held as a preprocessed image until
// the video is encoded (0.6 MB at 224 x 224), and more would not change a mean embedding.
constexpr int kMaxFramesPerVideo = 256;
// Throws util::OptionError ("frames") unless 1 <= frames <= kMaxFramesPerVideo.
void check_frames_per_video(int frames);

struct VideoEncoders {
  ClipEncoder* clip = nullptr;  // required
  ClapEncoder* clap = nullptr;  // null: visual features only
  int frames = 1;               // evenly spaced frames, embeddings averaged
  FramePixels pixels = FramePixels::kStandard;
  int64_t frames_per_call = 32; // images per CLIP call: bounds the activations' memory
};

// The encoders a job loads, owned together: CLIP always, CLAP when `clap_dir` is not empty.
class LoadedVideoEncoders {
 public:
  LoadedVideoEncoders(const std::filesystem::path& clip_dir, const std::filesystem::path& clap_dir, int frames,
                      FramePixels pixels, torch::Device device);
  ~LoadedVideoEncoders();
  LoadedVideoEncoders(const LoadedVideoEncoders&) = delete;
  LoadedVideoEncoders& operator=(const LoadedVideoEncoders&) = delete;

  ClipEncoder& clip() const { return *clip_; }
  ClapEncoder* clap() const { return clap_.get(); }  // null without CLAP
  const VideoEncoders& view() const { return view_; }

 private:
  std::unique_ptr<ClipEncoder> clip_;
  std::unique_ptr<ClapEncoder> clap_;
  VideoEncoders view_;
};

struct DecodedVideo {
  torch::Tensor frames;                      // [F, 3, S, S], CLIP's input
  std::optional<std::vector<float>> audio;   // mono at the CLAP rate; empty without CLAP or audio track
  bool has_audio = false;                    // the file has an audio stream
  bool silent_audio = false;                 // ... whose samples are all zero
  std::string error;                         // non-empty: the video cannot be used, and why
};

// Never throws for a bad video: the reason goes to `error`, naming nothing but the problem. A
// video with fewer frames than encoders.frames is such an error (its frames would repeat).
DecodedVideo decode_for_encoders(const std::filesystem::path& video, const VideoEncoders& encoders);

struct VideoFeatures {
  torch::Tensor visual;  // [n, E]: per video, the mean of its frames' unit embeddings, re-normalised
  torch::Tensor audio;   // [n, E'] unit rows; zero rows for videos without audio; undefined without CLAP
};

// Encodes decoded videos (none with an error) in one batch per encoder.
VideoFeatures encode_videos(const std::vector<const DecodedVideo*>& videos, const VideoEncoders& encoders);

}  // namespace avgzsl::encoders
