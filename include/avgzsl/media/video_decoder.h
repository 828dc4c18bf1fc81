// Decoding the frames and the audio track of a video file with FFmpeg's libraries.
//
// Torch-free on purpose: images are plain RGB24 buffers and audio is a vector of floats, so the
// caller decides how to normalise them for CLIP (frames) or CLAP (audio). FFmpeg's headers stay in
// the .cpp (pimpl), so including this header pulls in no C library.
//
// Visual features follow the paper: the middle frame of a video, or N evenly spaced frames whose
// embeddings the caller averages. The decoder seeks to the keyframe before each requested time and
// decodes forward only as far as that time, so a one-frame request on a long video decodes about
// one group of pictures, not the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace avgzsl::media {

// Row-major H x W x 3 bytes, RGB24, no row padding.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;

  const uint8_t* at(int x, int y) const { return pixels.data() + (size_t(y) * width + x) * 3; }
};

struct VideoFrame {
  RgbImage image;           // upright: the stream's rotation is already applied
  double timestamp_s = 0;   // presentation time, seconds since the start of the video stream
};

struct MediaInfo {
  // The span that frames_evenly_spaced divides: the video stream's start and duration (the
  // container's when the stream has none; counted from the packets when neither is known).
  double start_time_s = 0;
  double duration_s = 0;
  int width = 0;               // display size, i.e. after rotation
  int height = 0;
  int rotation_degrees = 0;    // 0, 90, 180 or 270: clockwise turn that makes the frames upright
  double average_fps = 0;
  int64_t frame_count = 0;     // from the container when it records it, else duration x fps
  std::string video_codec;     // FFmpeg's short name: "h264", "vp9", ...
  bool has_audio = false;
  int audio_sample_rate = 0;   // the stream's own rate and channel count (0 without audio)
  int audio_channels = 0;
  std::string audio_codec;
};

// Every failure to read a file: the message is always one line, "<path>: <problem>".
class MediaError : public std::runtime_error {
 public:
  MediaError(const std::filesystem::path& path, const std::string& problem);
};

struct DecoderOptions {
  // Decoder threads per file. 1 by default: callers decode many files in parallel, one decoder
  // per thread, and FFmpeg's own threads would only oversubscribe the cores.
  int threads = 1;
  // Upper bound on the packets read (all streams) for one requested frame. A valid file never
  // comes near it; it stops a broken one from being read for ever.
  int64_t max_packets_per_frame = 500000;
};

// Counters for tests and benchmarks.
struct DecodeStats {
  int64_t packets_read = 0;     // by the video side (all streams of its demuxer)
  int64_t frames_decoded = 0;   // video frames out of the decoder, used or not
  int64_t seeks = 0;
};

// One open video file. Not thread-safe: use one decoder per thread.
class VideoDecoder {
 public:
  // Opens `path` and finds its streams. Throws MediaError for a missing, empty, unreadable or
  // truncated-beyond-repair file, for a file with no video stream, or a codec FFmpeg cannot decode.
  explicit VideoDecoder(const std::filesystem::path& path, DecoderOptions options = {});
  ~VideoDecoder();
  VideoDecoder(VideoDecoder&&) noexcept;
  VideoDecoder& operator=(VideoDecoder&&) noexcept;
  VideoDecoder(const VideoDecoder&) = delete;
  VideoDecoder& operator=(const VideoDecoder&) = delete;

  const std::filesystem::path& path() const;
  const MediaInfo& info() const;

  // `n` frames evenly spaced in time: frame i is the one on screen at
  //   t_i = start + (i + 0.5) * duration / n        (n = 1: the middle frame),
  // i.e. the last frame whose presentation time is <= t_i; the last frame that decodes when t_i
  // lies past it (truncated files); the first frame found when even a second, earlier seek finds
  // none at or before t_i (imprecise seeking). Timestamps, not frame indices, decide, so variable
  // frame rates are handled. May return the same frame twice when n exceeds the frame count.
  // Throws std::invalid_argument for n < 1, MediaError when no frame at all decodes or the packet
  // bound is hit. Repeated calls are allowed, in any order.
  std::vector<VideoFrame> frames_evenly_spaced(int n);

  // The audio track (best audio stream), resampled to `sample_rate` Hz and mixed to mono as the
  // mean of the channels; std::nullopt when the file has no audio stream. With `centre_window`
  // > 0, a track longer than that many samples gives only its centred window, the samples from
  // length/2 - centre_window/2 on (CLAP's crop; the same samples as cropping the whole track),
  // and memory stays that of the window plus a margin whatever the track's length.
  // Packets that fail to decode are skipped. Throws MediaError when the stream has packets and
  // none of them decodes, and "truncated: ..." when the track holds much less than its container
  // declares (a cut file); std::invalid_argument for sample_rate < 1 or a negative window.
  // Independent of the video position (reads the file separately).
  std::optional<std::vector<float>> audio_mono(int sample_rate, int64_t centre_window = 0);

  const DecodeStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The audio track of any media file, audio-only ones included, exactly as VideoDecoder::audio_mono
// decodes it; std::nullopt when the file has no audio stream. Throws MediaError as the
// VideoDecoder constructor does for unreadable files.
std::optional<std::vector<float>> decode_audio_mono(const std::filesystem::path& path, int sample_rate,
                                                    int threads = 1, int64_t centre_window = 0);

// Why `path` is not a video avgzsl can read ("" when it is one): it opens, has a video stream that
// is not cover art, and is not a still image (FFmpeg reads a JPEG as a one-frame video). Reads
// the headers only. Never throws for a bad file.
std::string why_not_a_video(const std::filesystem::path& path);

// FFmpeg logs to stderr through a process-wide level (broken files make it talkative). This sets
// that level; it affects every FFmpeg user in the process.
enum class FfmpegLogLevel { kQuiet, kError, kWarning, kInfo };
void set_ffmpeg_log_level(FfmpegLogLevel level);

// FFmpeg's log as whole lines ("[mov,mp4,... @ 0x...] moov atom not found"), each handed to `sink`
// when at least as severe as `level`; FFmpeg then writes nothing to stderr itself. An empty sink
// or kQuiet drops every line. Process-wide, thread-safe (decoders log from several threads).
using FfmpegLogSink = std::function<void(const std::string& line)>;
void route_ffmpeg_log(FfmpegLogLevel level, FfmpegLogSink sink);

}  // namespace avgzsl::media
