// The audio half: an audio track decoded to mono float32 at the rate CLAP wants, all of it or
// only the centred window CLAP keeps (a 60-minute track then costs a window's memory, not 1.6 GB).

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include "avgzsl/media/video_decoder.h"
#include "ffmpeg_handles.h"

namespace avgzsl::media {
namespace fs = std::filesystem;

namespace {

// Consecutive EAGAIN answers from the demuxer tolerated before the file counts as ended.
constexpr int kMaxStalls = 10000;

// The resampled stream, sample after sample: counts them all, keeps those in [from, to).
class SampleWindow {
 public:
  SampleWindow(int64_t from, int64_t to) : from_(from), to_(to) {}

  void append(const float* data, int64_t count) {
    const int64_t begin = std::max(total_, from_), end = std::min(total_ + count, to_);
    if (begin < end) kept_.insert(kept_.end(), data + (begin - total_), data + (end - total_));
    total_ += count;
  }
  int64_t total() const { return total_; }
  int64_t from() const { return from_; }
  std::vector<float>& kept() { return kept_; }

 private:
  int64_t from_, to_;
  int64_t total_ = 0;
  std::vector<float> kept_;
};

// Resamples decoded frames to mono float at one rate, appending to `samples`.
//
// The mono mix is the plain mean of the channels, installed as swresample's mixing matrix
// (1/C per channel): that is what the Python reference's loaders do (librosa's to_mono,
// torchaudio's mean over channels). swresample's own default is not a mean: for stereo -> mono it
// uses 1/sqrt(2) per channel (-3 dB, not normalised for float output), which turns a tone present
// in both channels into one 1.41x louder (measured with `ffmpeg -ac 1`, see tests/media_test.cpp).
// No library call does "mean of the channels, whatever the layout", hence the hand-made matrix.
class MonoResampler {
 public:
  MonoResampler(const fs::path& path, int rate, SampleWindow& samples)
      : path_(path), rate_(rate), samples_(samples) {}
  ~MonoResampler() { av_channel_layout_uninit(&layout_); }
  MonoResampler(const MonoResampler&) = delete;
  MonoResampler& operator=(const MonoResampler&) = delete;

  void add(const AVFrame* frame) {
    AVChannelLayout layout{};
    // Layouts without channel names (raw PCM, some WAVs) get the default order for their count.
    if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || !av_channel_layout_check(&frame->ch_layout)) {
      av_channel_layout_default(&layout, frame->ch_layout.nb_channels);
    } else if (av_channel_layout_copy(&layout, &frame->ch_layout) < 0) {
      throw std::bad_alloc();
    }
    if (layout.nb_channels < 1 || frame->sample_rate <= 0) {
      av_channel_layout_uninit(&layout);
      return;   // a frame that describes no audio: nothing to add
    }
    // A stream may change format, rate or layout midway (concatenated recordings): finish what the
    // old configuration holds and start a new one.
    if (!swr_ || frame->format != format_ || frame->sample_rate != in_rate_ ||
        av_channel_layout_compare(&layout, &layout_) != 0) {
      finish();
      configure(layout, frame->format, frame->sample_rate);
    }
    av_channel_layout_uninit(&layout);
    convert(const_cast<const uint8_t**>(frame->extended_data), frame->nb_samples);
  }

  // Drains the resampler's filter delay.
  void finish() {
    if (!swr_) return;
    while (convert(nullptr, 0) > 0) {
    }
  }

 private:
  void configure(const AVChannelLayout& layout, int format, int rate) {
    av_channel_layout_uninit(&layout_);
    if (av_channel_layout_copy(&layout_, &layout) < 0) throw std::bad_alloc();
    format_ = format;
    in_rate_ = rate;
    AVChannelLayout mono{};
    av_channel_layout_default(&mono, 1);
    SwrContext* raw = nullptr;
    int r = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, rate_, &layout_, static_cast<AVSampleFormat>(format),
                                rate, 0, nullptr);
    swr_.reset(raw);
    if (r < 0) throw MediaError(path_, "cannot set up audio resampling (" + av_error_text(r) + ")");
    const std::vector<double> mean(size_t(layout_.nb_channels), 1.0 / layout_.nb_channels);
    r = swr_set_matrix(swr_.get(), mean.data(), layout_.nb_channels);
    if (r >= 0) r = swr_init(swr_.get());
    if (r < 0) throw MediaError(path_, "cannot set up audio resampling (" + av_error_text(r) + ")");
  }

  int convert(const uint8_t** input, int count) {
    const int room = swr_get_out_samples(swr_.get(), count);
    if (room < 0) throw MediaError(path_, "audio resampling failed (" + av_error_text(room) + ")");
    buffer_.resize(size_t(room));
    uint8_t* output = reinterpret_cast<uint8_t*>(buffer_.data());
    const int made = swr_convert(swr_.get(), &output, room, input, count);
    if (made < 0) throw MediaError(path_, "audio resampling failed (" + av_error_text(made) + ")");
    samples_.append(buffer_.data(), made);
    return made;
  }

  fs::path path_;
  int rate_;
  SampleWindow& samples_;
  std::vector<float> buffer_;   // one frame's output, before the window takes its part
  SwrPtr swr_;
  AVChannelLayout layout_{};
  int format_ = -1;
  int in_rate_ = 0;
};

}  // namespace

namespace {

struct AudioPass {
  int64_t total = 0;            // samples of the whole track at the output rate
  int64_t kept_from = 0;        // the first kept sample's position in the track
  std::vector<float> kept;
  double declared_s = std::numeric_limits<double>::quiet_NaN();   // what the container says
};

constexpr int64_t kEverything = std::numeric_limits<int64_t>::max();

// Where a first pass keeps CLAP's centred window: placed from the container's duration, with a
// margin on both sides, as the exact place needs the exact length, known only at the end. The
// whole track when there is no window or no declared duration.
std::pair<int64_t, int64_t> estimated_window(double declared_s, int sample_rate, int64_t centre_window) {
  if (centre_window == 0 || !(declared_s > 0) || !std::isfinite(declared_s)) return {0, kEverything};
  const auto estimate = static_cast<int64_t>(declared_s * sample_rate);
  const int64_t margin = 2 * int64_t(sample_rate) + estimate / 200;
  return {std::max<int64_t>(0, estimate / 2 - centre_window / 2 - margin), estimate / 2 - centre_window / 2 + centre_window + margin};
}

// One pass over the file: decodes every audio packet, keeps the samples in [from, to), or, with
// `centre_window` > 0, in the estimated_window.
std::optional<AudioPass> decode_pass(const fs::path& path, int sample_rate, int threads, int64_t from, int64_t to,
                                     int64_t centre_window = 0) {
  // A context of its own: reading the audio never moves the video decoder's position.
  FormatPtr format = open_media(path);
  const int index = best_audio_stream(format.get());
  if (index < 0) return std::nullopt;
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    if (int(i) != index) format->streams[i]->discard = AVDISCARD_ALL;   // the demuxer skips them
  }
  CodecPtr codec = open_decoder(path, format->streams[index], threads, "audio");
  PacketPtr packet = make_packet();
  FramePtr frame = make_frame();

  AudioPass pass;
  pass.declared_s = declared_stream_seconds(format.get(), format->streams[index]);
  if (centre_window > 0) std::tie(from, to) = estimated_window(pass.declared_s, sample_rate, centre_window);
  SampleWindow window(from, to);
  MonoResampler resampler(path, sample_rate, window);
  int64_t packets = 0, decoded_frames = 0;
  auto drain = [&] {
    // Errors other than EAGAIN/EOF concern one frame: skip it, keep what decodes.
    for (;;) {
      const int r = avcodec_receive_frame(codec.get(), frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) continue;
      ++decoded_frames;
      resampler.add(frame.get());
      av_frame_unref(frame.get());
    }
  };
  // Timestamps are not consulted: a gap in a broken file closes up rather than being filled with
  // silence, which matters little for a clip-level audio embedding.
  for (int stalls = 0;;) {
    const int r = av_read_frame(format.get(), packet.get());
    if (r == AVERROR(EAGAIN) && ++stalls < kMaxStalls) continue;
    if (r < 0) break;   // end of file, or a read error that ends the usable part
    stalls = 0;
    if (packet->stream_index == index) {
      ++packets;
      avcodec_send_packet(codec.get(), packet.get());   // a packet that fails to decode is skipped
      drain();
    }
    av_packet_unref(packet.get());
  }
  avcodec_send_packet(codec.get(), nullptr);
  drain();
  resampler.finish();
  if (packets > 0 && decoded_frames == 0) throw MediaError(path, "the audio stream does not decode");
  pass.total = window.total();
  pass.kept_from = window.from();
  pass.kept = std::move(window.kept());
  return pass;
}

// A track that decodes to much less than its container declares is cut short (or its middle is
// broken): the samples that should be there are not. Slack for codec priming and padding.
void check_complete(const fs::path& path, const AudioPass& pass, int sample_rate) {
  if (!(pass.declared_s > 0)) return;
  const double held = double(pass.total) / sample_rate;
  if (held < pass.declared_s - std::max(0.25, 0.03 * pass.declared_s)) {
    char problem[128];
    std::snprintf(problem, sizeof problem, "truncated: the audio track holds %.2f s of the %.2f s its container declares",
                  held, pass.declared_s);
    throw MediaError(path, problem);
  }
}

}  // namespace

std::optional<std::vector<float>> decode_audio_mono(const fs::path& path, int sample_rate, int threads,
                                                    int64_t centre_window) {
  if (sample_rate <= 0) throw std::invalid_argument("decode_audio_mono: sample_rate must be positive");
  if (centre_window < 0) throw std::invalid_argument("decode_audio_mono: centre_window must not be negative");
  std::optional<AudioPass> pass = decode_pass(path, sample_rate, threads, 0, kEverything, centre_window);
  if (!pass) return std::nullopt;
  check_complete(path, *pass, sample_rate);
  if (centre_window == 0 || pass->total <= centre_window) {
    if (pass->kept_from == 0 && int64_t(pass->kept.size()) == pass->total) return std::move(pass->kept);
    return decode_pass(path, sample_rate, threads, 0, kEverything)->kept;   // the container's duration was far off
  }
  // CLAP's centred clip (encoders::clip_start_sample): from length/2 - window/2.
  const int64_t start = pass->total / 2 - centre_window / 2;
  if (start < pass->kept_from || start + centre_window > pass->kept_from + int64_t(pass->kept.size())) {
    // The container's duration was far off: a second pass, now placed exactly.
    return std::move(decode_pass(path, sample_rate, threads, start, start + centre_window)->kept);
  }
  const auto first = pass->kept.begin() + (start - pass->kept_from);
  return std::vector<float>(first, first + centre_window);
}

}  // namespace avgzsl::media
