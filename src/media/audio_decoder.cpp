// The audio half: a whole audio track, decoded once, to mono float32 at the rate CLAP wants.

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

#include <new>
#include <stdexcept>
#include <vector>

#include "avgzsl/media/video_decoder.h"
#include "ffmpeg_handles.h"

namespace avgzsl::media {
namespace fs = std::filesystem;

namespace {

// Consecutive EAGAIN answers from the demuxer tolerated before the file counts as ended.
constexpr int kMaxStalls = 10000;

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
  MonoResampler(const fs::path& path, int rate, std::vector<float>& samples)
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
    const size_t old_size = samples_.size();
    samples_.resize(old_size + size_t(room));
    uint8_t* output = reinterpret_cast<uint8_t*>(samples_.data() + old_size);
    const int made = swr_convert(swr_.get(), &output, room, input, count);
    samples_.resize(old_size + size_t(std::max(made, 0)));
    if (made < 0) throw MediaError(path_, "audio resampling failed (" + av_error_text(made) + ")");
    return made;
  }

  fs::path path_;
  int rate_;
  std::vector<float>& samples_;
  SwrPtr swr_;
  AVChannelLayout layout_{};
  int format_ = -1;
  int in_rate_ = 0;
};

}  // namespace

std::optional<std::vector<float>> decode_audio_mono(const fs::path& path, int sample_rate, int threads) {
  if (sample_rate <= 0) throw std::invalid_argument("decode_audio_mono: sample_rate must be positive");
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

  std::vector<float> samples;
  MonoResampler resampler(path, sample_rate, samples);
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
  return samples;
}

}  // namespace avgzsl::media
