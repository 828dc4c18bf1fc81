#include "avgzsl/encoders/video_features.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "avgzsl/media/video_decoder.h"
#include "avgzsl/encoders/clap/clap_encoder.h"
#include "avgzsl/encoders/clip/clip_encoder.h"
#include "avgzsl/util/option_error.h"

namespace avgzsl::encoders {

FramePixels parse_frame_pixels(const std::string& text) {
  if (text == "standard") return FramePixels::kStandard;
  if (text == "reference") return FramePixels::kReference;
  throw util::OptionError("frame-pixels", "the frame pixels", ": expected standard or reference, got '" + text + "'");
}

std::string to_string(FramePixels pixels) { return pixels == FramePixels::kReference ? "reference" : "standard"; }

MissingAudio parse_missing_audio(const std::string& text) {
  if (text == "skip") return MissingAudio::kSkip;
  if (text == "zero") return MissingAudio::kZero;
  throw util::OptionError("missing-audio", "the missing-audio policy", ": expected skip or zero, got '" + text + "'");
}

std::string to_string(MissingAudio policy) { return policy == MissingAudio::kZero ? "zero" : "skip"; }

namespace {

void apply_reference_pixels(media::RgbImage& image) {
  uint8_t* p = image.pixels.data();
  for (size_t i = 0; i + 2 < image.pixels.size(); i += 3) {
    std::swap(p[i], p[i + 2]);  // RGB -> BGR
    for (size_t c = 0; c < 3; ++c) p[i + c] = static_cast<uint8_t>((256 - p[i + c]) & 0xff);
  }
}

}  // namespace

void check_frames_per_video(int frames) {
  util::check_option_range("frames", "the number of frames per video", frames, 1, kMaxFramesPerVideo);
}

LoadedVideoEncoders::LoadedVideoEncoders(const std::filesystem::path& clip_dir, const std::filesystem::path& clap_dir,
                                         int frames, FramePixels pixels, torch::Device device)
    : clip_(std::make_unique<ClipEncoder>(clip_dir, device)),
      clap_(clap_dir.empty() ? nullptr : std::make_unique<ClapEncoder>(clap_dir, device)),
      view_{clip_.get(), clap_.get(), frames, pixels} {}

LoadedVideoEncoders::~LoadedVideoEncoders() = default;

DecodedVideo decode_for_encoders(const std::filesystem::path& video, const VideoEncoders& encoders) {
  DecodedVideo out;
  try {
    media::VideoDecoder decoder(video);
    out.has_audio = decoder.info().has_audio;
    const int64_t available = decoder.info().frame_count;
    if (available > 0 && encoders.frames > available) {
      throw media::MediaError(video, "has " + std::to_string(available) + " frames, fewer than the " +
                                         std::to_string(encoders.frames) + " evenly spaced frames asked for");
    }
    std::vector<torch::Tensor> frames;
    for (media::VideoFrame& frame : decoder.frames_evenly_spaced(encoders.frames)) {
      if (encoders.pixels == FramePixels::kReference) apply_reference_pixels(frame.image);
      frames.push_back(encoders.clip->preprocess({frame.image.pixels.data(), frame.image.width, frame.image.height}));
    }
    out.frames = torch::stack(frames);
    if (encoders.clap && out.has_audio) {
      // Only the centred clip CLAP keeps: the same samples as cropping the whole track.
      out.audio = decoder.audio_mono(encoders.clap->sample_rate(), encoders.clap->clip_samples());
      if (out.audio) {
        out.silent_audio = std::all_of(out.audio->begin(), out.audio->end(), [](float x) { return x == 0.f; });
      } else {
        out.has_audio = false;
      }
    }
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

VideoFeatures encode_videos(const std::vector<const DecodedVideo*>& videos, const VideoEncoders& encoders) {
  VideoFeatures out;
  if (videos.empty()) return out;
  const int64_t n = static_cast<int64_t>(videos.size());
  std::vector<torch::Tensor> frames;
  for (const DecodedVideo* v : videos) frames.push_back(v->frames);
  const torch::Tensor images = torch::cat(frames);
  std::vector<torch::Tensor> embedded;
  const int64_t step = std::max<int64_t>(1, encoders.frames_per_call);
  for (int64_t from = 0; from < images.size(0); from += step) {
    embedded.push_back(encoders.clip->embed_images(images.slice(0, from, std::min(images.size(0), from + step))));
  }
  const torch::Tensor per_frame = torch::cat(embedded);  // [n * F, E], unit rows
  // The mean of a video's unit frame embeddings, re-normalised (one frame: unchanged).
  torch::Tensor per_video = per_frame.view({n, encoders.frames, -1}).mean(1);
  out.visual = per_video / per_video.norm(2, -1, true);
  if (encoders.clap) {
    std::vector<std::vector<float>> waveforms;
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < n; ++i) {
      if (videos[i]->audio) {
        waveforms.push_back(*videos[i]->audio);
        rows.push_back(i);
      }
    }
    out.audio = torch::zeros({n, encoders.clap->embedding_dim()});
    if (!rows.empty()) out.audio.index_copy_(0, torch::tensor(rows, torch::kInt64), encoders.clap->embed_audio(waveforms));
  }
  return out;
}

}  // namespace avgzsl::encoders
